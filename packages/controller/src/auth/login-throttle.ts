import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql, Tx } from '../database/sql.ts';

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
   * One username from anywhere: a distributed attack on one account. Soft: it only holds back
   * addresses that have failed (or are trying) themselves, so rotating attackers cannot lock the
   * real user out (OWASP's lockout guidance); and short, capped at a minute.
   */
  username: ThrottleRule;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
  windowSeconds: 15 * 60,
  pair: { free: 5, baseSeconds: 30, capSeconds: 15 * 60 },
  address: { free: 20, baseSeconds: 30, capSeconds: 15 * 60 },
  username: { free: 10, baseSeconds: 2, capSeconds: 60 },
};

/** How long attempts wait on each other; tests shorten them. */
export interface ThrottleTiming {
  /** An attempt whose process died before it settled stops counting as in flight after this long. */
  inFlightTtlMs: number;
  /** How long an attempt waits for the earlier ones in flight to settle before it is refused. */
  maxWaitMs: number;
}

export const DEFAULT_THROTTLE_TIMING: ThrottleTiming = { inFlightTtlMs: 60_000, maxWaitMs: 15_000 };
/** Advisory-lock namespace of the throttle counters (the two-int key space; migrations use the bigint one). */
const LOCK_NAMESPACE = 0x7468;

type Kind = 'pair' | 'address' | 'username';
const KINDS: readonly Kind[] = ['pair', 'address', 'username'];

const keysOf = (address: string, username: string): Record<Kind, string> => ({
  pair: `pair:${address} ${username.toLowerCase()}`,
  address: `addr:${address}`,
  username: `user:${username.toLowerCase()}`,
});

/** The pause before an undecided attempt asks again: doubling from 10 ms, at most 200 ms. */
export const nextPauseMs = (pauseMs: number): number => Math.min(200, pauseMs * 2);

export const blockSeconds = (rule: ThrottleRule, failures: number): number =>
  failures < rule.free ? 0 : Math.min(rule.capSeconds, rule.baseSeconds * 2 ** (failures - rule.free));

/** A counted attempt: settle it once its password was checked, whatever the outcome. */
export interface ThrottleAttempt {
  settle(ok: boolean): Promise<void>;
}

export type ThrottleDecision =
  | { kind: 'claimed'; attempt: ThrottleAttempt }
  | { kind: 'blocked'; retryAfterSeconds: number };

type TryOutcome = ThrottleDecision | { kind: 'busy' };

/**
 * Failed-login throttling, in PostgreSQL so every replica sees the same counters.
 *
 * An attempt is counted before its password is checked, atomically: under transaction-scoped
 * advisory locks on its three counters, it is refused when a counter is blocked, and it is
 * recorded as in flight only when the counter's failures plus the attempts already in flight stay
 * within the free budget, as if every one of them were going to fail (once a block has lapsed, one
 * attempt at a time). So however many guesses
 * arrive at once, no more passwords are checked than the budget allows. An attempt that would fit
 * only if some in flight succeed waits for them to settle (a burst of correct logins all pass).
 * A blocked attempt is not counted, so hammering a block does not extend it.
 */
export class LoginThrottle {
  constructor(
    private readonly sql: Sql,
    private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY,
    private readonly timing: ThrottleTiming = DEFAULT_THROTTLE_TIMING,
  ) {}

  async claim(address: string, username: string, now: Date): Promise<ThrottleDecision> {
    const giveUpAt = Date.now() + this.timing.maxWaitMs;
    let pauseMs = 10;
    for (;;) {
      const outcome = await this.tryClaim(address, username, now);
      if (outcome.kind !== 'busy') return outcome;
      // Still undecided after the longest wait anyone should sit through: try again in a second.
      // Stryker disable next-line EqualityOperator: one millisecond more or less of waiting
      if (Date.now() >= giveUpAt) return { kind: 'blocked', retryAfterSeconds: 1 };
      await sleep(pauseMs);
      pauseMs = nextPauseMs(pauseMs);
    }
  }

  private async tryClaim(address: string, username: string, now: Date): Promise<TryOutcome> {
    const keys = keysOf(address, username);
    const windowStart = new Date(now.getTime() - this.policy.windowSeconds * 1000);
    const inFlightSince = new Date(now.getTime() - this.timing.inFlightTtlMs);
    return (await this.sql.begin(async (tx) => {
      await lockCounters(tx, keys);
      const counters = await tx<
        { key: string; failures: number; last_failure_at: Date; blocked_until: Date | null }[]
      >`
        select key, failures, last_failure_at, blocked_until from login_throttle
        where key in ${tx(Object.values(keys))}`;
      const inFlight = await tx<{ key: string; n: number }[]>`
        select key, count(*)::int as n from login_attempts
        where key in ${tx(Object.values(keys))} and started_at > ${inFlightSince}
        group by key`;
      const state = (kind: Kind) => {
        const row = counters.find((r) => r.key === keys[kind]);
        const recent = row !== undefined && row.last_failure_at >= windowStart;
        return {
          failures: recent ? row.failures : 0,
          blockedUntil: row?.blocked_until ?? null,
          inFlight: inFlight.find((r) => r.key === keys[kind])?.n ?? 0,
        };
      };
      const address = state('address');
      // The per-username counter holds back only addresses with failures or attempts of their own.
      const applies = (kind: Kind) => kind !== 'username' || address.failures > 0 || address.inFlight > 0;
      let blockedUntil = 0;
      let busy = false;
      for (const kind of KINDS.filter(applies)) {
        const s = state(kind);
        if (s.blockedUntil !== null && s.blockedUntil > now) {
          blockedUntil = Math.max(blockedUntil, s.blockedUntil.getTime());
        } else if (s.inFlight > 0 && s.failures + s.inFlight >= this.policy[kind].free) {
          // Within budget only if some in flight succeed (or, past the budget, the one attempt a
          // lapsed block allows is already taken): wait for them rather than guess.
          busy = true;
        }
      }
      if (blockedUntil > 0) {
        return { kind: 'blocked', retryAfterSeconds: Math.ceil((blockedUntil - now.getTime()) / 1000) };
      }
      if (busy) return { kind: 'busy' };
      const id = randomUUID();
      await tx`
        insert into login_attempts (key, attempt_id, started_at)
        select unnest(${tx.array(Object.values(keys))}::text[]), ${id}, ${now}`;
      return { kind: 'claimed', attempt: { settle: (ok: boolean) => this.settle(keys, id, ok, now) } };
    })) as TryOutcome;
  }

  /**
   * Ends an attempt: a failure counts on all three counters (blocking those past their budget); a
   * success clears its own pair and username counters. The address counter stays: an attacker with
   * one valid account must not reset it by logging in between guesses.
   */
  private async settle(keys: Record<Kind, string>, id: string, ok: boolean, now: Date): Promise<void> {
    const windowStart = new Date(now.getTime() - this.policy.windowSeconds * 1000);
    await this.sql.begin(async (tx) => {
      await lockCounters(tx, keys);
      await tx`delete from login_attempts where key in ${tx(Object.values(keys))} and attempt_id = ${id}`;
      if (ok) {
        await tx`delete from login_throttle where key in ${tx([keys.pair, keys.username])}`;
        return;
      }
      const counted = await tx<{ key: string; failures: number }[]>`
        insert into login_throttle (key, failures, last_failure_at)
        select unnest(${tx.array(Object.values(keys))}::text[]), 1, ${now}::timestamptz
        on conflict (key) do update set
          failures = case when login_throttle.last_failure_at < ${windowStart} then 1
                          else login_throttle.failures + 1 end,
          last_failure_at = excluded.last_failure_at
        returning key, failures`;
      for (const kind of KINDS) {
        // Stryker disable next-line OptionalChaining: the upsert returns every key it was given
        const failures = counted.find((r) => r.key === keys[kind])?.failures ?? 0;
        const seconds = blockSeconds(this.policy[kind], failures);
        if (seconds > 0) {
          await tx`
            update login_throttle set blocked_until = ${new Date(now.getTime() + seconds * 1000)}
            where key = ${keys[kind]}`;
        }
      }
    });
    // Stryker disable next-line ConditionalExpression: cleaning up after a success too changes no result; skipped to keep a login short
    if (!ok) await this.forgetOld(now);
  }

  /** Forgotten counters and abandoned attempts go, so guessed usernames cannot grow the tables without bound. */
  private async forgetOld(now: Date): Promise<void> {
    const windowStart = new Date(now.getTime() - this.policy.windowSeconds * 1000);
    await this.sql`
      delete from login_throttle
      where last_failure_at < ${windowStart} and (blocked_until is null or blocked_until < ${now})`;
    await this
      .sql`delete from login_attempts where started_at < ${new Date(now.getTime() - this.timing.inFlightTtlMs)}`;
  }
}

/** Locks the three counters of an attempt for the transaction, always in the same order (no deadlock). */
async function lockCounters(tx: Tx, keys: Record<Kind, string>): Promise<void> {
  // Stryker disable next-line MethodExpression: two attempts share one key, or all three in the same order: kept for keys yet to come
  const sorted = Object.values(keys).sort();
  for (const key of sorted) {
    await tx`select pg_advisory_xact_lock(${LOCK_NAMESPACE}::int, hashtext(${key}))`;
  }
}
