import type { Sql } from '../database/sql.ts';

/** One counter's rule: `free` failures pass, then each further one blocks for `base·2^k` seconds up to `cap`. */
export interface ThrottleRule {
  free: number;
  baseSeconds: number;
  capSeconds: number;
}

export interface ThrottlePolicy {
  /** A counter forgets its failures this long after the last one. */
  windowSeconds: number;
  /** One client address guessing one username: the attacker's own budget, blocked hard. */
  pair: ThrottleRule;
  /** One client address across all usernames: password spraying from one place. */
  address: ThrottleRule;
  /**
   * One username from anywhere: a distributed attack on one account. Soft and short (capped at a
   * minute) because anyone can trip it, so it must never lock the real user out for long.
   */
  username: ThrottleRule;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
  windowSeconds: 15 * 60,
  pair: { free: 5, baseSeconds: 30, capSeconds: 15 * 60 },
  address: { free: 20, baseSeconds: 30, capSeconds: 15 * 60 },
  username: { free: 10, baseSeconds: 2, capSeconds: 60 },
};

type Kind = 'pair' | 'address' | 'username';

const keysOf = (address: string, username: string): Record<Kind, string> => ({
  pair: `pair:${address} ${username.toLowerCase()}`,
  address: `addr:${address}`,
  username: `user:${username.toLowerCase()}`,
});

export const blockSeconds = (rule: ThrottleRule, failures: number): number =>
  failures < rule.free ? 0 : Math.min(rule.capSeconds, rule.baseSeconds * 2 ** (failures - rule.free));

/**
 * Failed-login throttling, in PostgreSQL so every replica sees the same counters. A blocked
 * attempt is refused before any password is checked and is not counted, so hammering a block
 * does not extend it.
 */
export class LoginThrottle {
  constructor(
    private readonly sql: Sql,
    private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY,
  ) {}

  /** Seconds until this address may try this username again; 0 when it may now. */
  async retryAfter(address: string, username: string, now: Date): Promise<number> {
    const keys = Object.values(keysOf(address, username));
    const rows = await this.sql<{ blocked_until: Date }[]>`
      select blocked_until from login_throttle where key in ${this.sql(keys)} and blocked_until > ${now}`;
    const until = Math.max(0, ...rows.map((r) => r.blocked_until.getTime()));
    return until === 0 ? 0 : Math.ceil((until - now.getTime()) / 1000);
  }

  async recordFailure(address: string, username: string, now: Date): Promise<void> {
    const keys = keysOf(address, username);
    const windowStart = new Date(now.getTime() - this.policy.windowSeconds * 1000);
    const entries = Object.entries(keys) as Array<[Kind, string]>;
    const counted = await this.sql<{ key: string; failures: number }[]>`
      insert into login_throttle (key, failures, last_failure_at)
      select unnest(${this.sql.array(entries.map(([, k]) => k))}::text[]), 1, ${now}::timestamptz
      on conflict (key) do update set
        failures = case when login_throttle.last_failure_at < ${windowStart} then 1
                        else login_throttle.failures + 1 end,
        last_failure_at = excluded.last_failure_at
      returning key, failures`;
    for (const [kind, key] of entries) {
      const failures = counted.find((r) => r.key === key)?.failures ?? 0;
      const seconds = blockSeconds(this.policy[kind], failures);
      if (seconds > 0) {
        await this
          .sql`update login_throttle set blocked_until = ${new Date(now.getTime() + seconds * 1000)} where key = ${key}`;
      }
    }
    // Forgotten counters go, so guessed usernames cannot grow the table without bound.
    await this.sql`
      delete from login_throttle
      where last_failure_at < ${windowStart} and (blocked_until is null or blocked_until < ${now})`;
  }

  /**
   * A successful login clears its own pair and username counters. The address counter stays:
   * an attacker with one valid account must not reset it by logging in between guesses.
   */
  async recordSuccess(address: string, username: string): Promise<void> {
    const keys = keysOf(address, username);
    await this.sql`delete from login_throttle where key in ${this.sql([keys.pair, keys.username])}`;
  }
}
