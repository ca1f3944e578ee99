import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { LoginThrottle } from './login-throttle.ts';

// The throttle's counting window, on its own against PostgreSQL with a clock the test sets: failures
// add up within the window, a failure after a quiet window starts over, and forgotten counters go.
describe('login throttle window', () => {
  let db: TestDatabase;
  let throttle: LoginThrottle;
  const rule = { free: 100, baseSeconds: 1, capSeconds: 1 }; // never blocks: only counting is tested
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const at = (seconds: number) => new Date(t0 + seconds * 1000);

  beforeAll(async () => {
    db = await createTestDatabase();
    throttle = new LoginThrottle(db.sql, { windowSeconds: 60, pair: rule, address: rule, username: rule });
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function fail(address: string, username: string, when: Date): Promise<void> {
    const decision = await throttle.claim(address, username, when);
    if (decision.kind !== 'claimed') throw new Error(`attempt at ${when.toISOString()} was ${decision.kind}`);
    await decision.attempt.settle(false);
  }
  const failures = async (key: string) =>
    (await db.sql<{ failures: number }[]>`select failures from login_throttle where key = ${key}`)[0]
      ?.failures;

  it('adds up failures within the window and starts over after a quiet window', async () => {
    await fail('192.0.2.1', 'Alice', at(0));
    await fail('192.0.2.1', 'alice', at(30));
    expect(await failures('pair:192.0.2.1 alice')).toBe(2);
    expect(await failures('addr:192.0.2.1')).toBe(2);
    // Within the budget: counted, not blocked (not even until now).
    const blocked = await db.sql<{ n: number }[]>`
      select count(*)::int as n from login_throttle where key like '%192.0.2.1%' and blocked_until is not null`;
    expect(blocked[0]?.n).toBe(0);
    // 61 s after the last failure: the window (60 s) has passed, the count restarts.
    await fail('192.0.2.1', 'alice', at(91));
    expect(await failures('pair:192.0.2.1 alice')).toBe(1);
  });

  it('forgets counters quiet for a whole window when the next failure comes in', async () => {
    await fail('192.0.2.2', 'bob', at(100));
    await fail('192.0.2.3', 'carol', at(130));
    expect(await failures('pair:192.0.2.2 bob')).toBe(1);
    await fail('192.0.2.3', 'carol', at(161));
    expect(await failures('pair:192.0.2.2 bob')).toBeUndefined();
    expect(await failures('pair:192.0.2.3 carol')).toBe(2);
  });
});
