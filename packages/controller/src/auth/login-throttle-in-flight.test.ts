import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { LoginThrottle, type ThrottleDecision } from './login-throttle.ts';

// Attempts in flight, on the throttle alone against PostgreSQL with a clock the test sets: an attempt
// that fits the budget only if the ones in flight succeed waits for them, gives up after its longest
// wait, and an attempt whose process died stops counting once its time to live has passed.
describe('login throttle: attempts in flight', () => {
  let db: TestDatabase;
  // One free failure per counter, then a 30 s block: a second attempt beside an unsettled first must wait.
  const rule = { free: 1, baseSeconds: 30, capSeconds: 30 };
  const policy = { windowSeconds: 600, pair: rule, address: rule, username: rule };
  const timing = { inFlightTtlMs: 60_000, maxWaitMs: 400 };
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const at = (seconds: number) => new Date(t0 + seconds * 1000);

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const claimed = (decision: ThrottleDecision) => {
    if (decision.kind !== 'claimed')
      throw new Error(`expected the attempt to be claimed, it was ${decision.kind}`);
    return decision.attempt;
  };
  const attemptsOf = async (address: string) =>
    (
      await db.sql<
        { n: number }[]
      >`select count(*)::int as n from login_attempts where key = ${`addr:${address}`}`
    )[0]?.n;

  it('refuses for a second after waiting its longest wait on an attempt that never settles', async () => {
    const throttle = new LoginThrottle(db.sql, policy, timing);
    claimed(await throttle.claim('192.0.2.10', 'dave', at(0)));
    const started = performance.now();
    const second = await throttle.claim('192.0.2.10', 'dave', at(1));
    const waited = performance.now() - started;
    expect(second).toEqual({ kind: 'blocked', retryAfterSeconds: 1 });
    expect(waited).toBeGreaterThanOrEqual(timing.maxWaitMs);
    // It kept asking while it waited, but gave up well before the default 15 s.
    expect(waited).toBeLessThan(5_000);
  });

  it('lets a waiting attempt through once the one in flight succeeds, and blocks it once that one fails', async () => {
    const throttle = new LoginThrottle(db.sql, policy, { ...timing, maxWaitMs: 10_000 });
    const first = claimed(await throttle.claim('192.0.2.11', 'erin', at(0)));
    const waiting = throttle.claim('192.0.2.11', 'erin', at(1));
    await first.settle(true);
    const second = claimed(await waiting);

    const third = throttle.claim('192.0.2.11', 'erin', at(2));
    await second.settle(false);
    // The failure at 1 s blocks for 30 s: 29 s left at 2 s.
    expect(await third).toEqual({ kind: 'blocked', retryAfterSeconds: 29 });
  });

  it('stops counting an attempt in flight once its time to live has passed, and removes it at the next failure', async () => {
    const throttle = new LoginThrottle(db.sql, policy, timing);
    claimed(await throttle.claim('192.0.2.12', 'frank', at(0))); // its process "dies": never settled
    // 59 s later it still counts: the next attempt waits and gives up.
    expect(await throttle.claim('192.0.2.12', 'frank', at(59))).toEqual({
      kind: 'blocked',
      retryAfterSeconds: 1,
    });
    // 61 s later it no longer does.
    const late = claimed(await throttle.claim('192.0.2.12', 'frank', at(61)));
    expect(await attemptsOf('192.0.2.12')).toBe(2);
    await late.settle(false);
    expect(await attemptsOf('192.0.2.12')).toBe(0);
  });

  it("keeps others' attempts in flight when a failure cleans up the abandoned ones", async () => {
    const throttle = new LoginThrottle(db.sql, policy, timing);
    claimed(await throttle.claim('192.0.2.13', 'grace', at(100))); // in flight, recent
    const other = claimed(await throttle.claim('192.0.2.14', 'heidi', at(100)));
    await other.settle(false);
    expect(await attemptsOf('192.0.2.13')).toBe(1);
  });
});
