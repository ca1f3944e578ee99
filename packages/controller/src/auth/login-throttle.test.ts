import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postFrom } from '../../test/support/auth-test-helpers.ts';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';
import { isServiceError } from '../service-error.ts';
import { createAuthService } from './auth-service.ts';
import { blockSeconds, DEFAULT_THROTTLE_POLICY, nextPauseMs } from './login-throttle.ts';

const login = (t: TestApp, from: string, username: string, password: string) =>
  postFrom(t, from, '/api/v1/auth/login', { username, password });

describe('blockSeconds', () => {
  it('lets the free failures pass, then doubles up to the cap', () => {
    const rule = DEFAULT_THROTTLE_POLICY.username;
    expect(blockSeconds(rule, rule.free - 1)).toBe(0);
    expect(blockSeconds(rule, rule.free)).toBe(rule.baseSeconds);
    expect(blockSeconds(rule, rule.free + 1)).toBe(rule.baseSeconds * 2);
    expect(blockSeconds(rule, rule.free + 50)).toBe(60);
  });
});

describe('nextPauseMs', () => {
  it('doubles the pause of an undecided attempt up to 200 ms', () => {
    expect(nextPauseMs(10)).toBe(20);
    expect(nextPauseMs(80)).toBe(160);
    expect(nextPauseMs(160)).toBe(200);
    expect(nextPauseMs(200)).toBe(200);
  });
});

describe('failed-login throttling over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('blocks one address guessing one username, but not the real user elsewhere, and forgives after the wait', async () => {
    const attacker = '127.0.0.11';
    for (let i = 0; i < DEFAULT_THROTTLE_POLICY.pair.free; i += 1) {
      expect((await login(t, attacker, 'admin', `guess-${i}`)).status).toBe(401);
    }
    const blocked = await login(t, attacker, 'admin', TEST_ADMIN_PASSWORD);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('30');
    expect((blocked.body as { error: { code: string } }).error.code).toBe('too_many_requests');
    // Hammering the block neither extends it nor counts.
    for (let i = 0; i < 3; i += 1) expect((await login(t, attacker, 'admin', 'x')).status).toBe(429);

    expect((await login(t, '127.0.0.12', 'admin', TEST_ADMIN_PASSWORD)).status).toBe(200);

    t.clock.advance(29_000);
    expect((await login(t, attacker, 'admin', 'x')).headers.get('retry-after')).toBe('1');
    t.clock.advance(1_000);
    // Sixth counted failure: the block doubles (it would be far longer had the blocked tries counted).
    expect((await login(t, attacker, 'admin', 'guess-5')).status).toBe(401);
    expect((await login(t, attacker, 'admin', 'x')).headers.get('retry-after')).toBe('60');
    t.clock.advance(60_000);
    // A success clears the pair's counter: the next mistake is an ordinary 401.
    expect((await login(t, attacker, 'admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
    expect((await login(t, attacker, 'admin', 'typo')).status).toBe(401);
    expect((await login(t, attacker, 'admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  });

  it('holds back addresses that guess a username, never the real user from a clean address (OWASP)', async () => {
    const victim = await t.userWithRole('operator');
    const { free } = DEFAULT_THROTTLE_POLICY.username;
    for (let i = 0; i < free; i += 1) {
      expect((await login(t, `127.0.1.${i + 1}`, victim.username, `guess-${i}`)).status).toBe(401);
    }
    // An address with failures of its own is held back by the username counter...
    const guesser = await login(t, '127.0.1.1', victim.username, victim.password);
    expect(guesser.status).toBe(429);
    expect(guesser.headers.get('retry-after')).toBe('2');
    // ...the real user, from an address that has not failed, is not.
    expect((await login(t, '127.0.2.1', victim.username, victim.password)).status).toBe(200);
  });

  it('keeps the real user in while rotating addresses keep failing against their username', async () => {
    const victim = await t.userWithRole('operator');
    // The scenario of the probe: one failure from a new address whenever the username block
    // lapses, for many rounds; the user, from home, logs in every round.
    for (let round = 0; round < 30; round += 1) {
      await login(t, `127.0.5.${round + 1}`, victim.username, `guess-${round}`);
      expect((await login(t, '127.0.6.1', victim.username, victim.password)).status).toBe(200);
      t.clock.advance(2_000);
    }
  });

  it('counts concurrent guesses before checking them: of 60 at once, at most the budget is checked', async () => {
    const victim = await t.userWithRole('operator');
    const from = '127.0.7.1';
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => login(t, from, victim.username, `guess-${i}`)),
    );
    const checked = answers.filter((r) => r.status === 401).length;
    expect(answers.every((r) => r.status === 401 || r.status === 429)).toBe(true);
    expect(checked).toBe(DEFAULT_THROTTLE_POLICY.pair.free);
  });

  it('does not let the right password through among concurrent guesses once the budget is spent', async () => {
    const victim = await t.userWithRole('operator');
    const from = '127.0.8.1';
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        login(t, from, victim.username, i === 55 ? victim.password : `guess-${i}`),
      ),
    );
    const checked = answers.filter((r) => r.status !== 429).length;
    expect(checked).toBeLessThanOrEqual(DEFAULT_THROTTLE_POLICY.pair.free);
    // Five wrong guesses were checked first (the right one waits behind them), so it is refused.
    expect(answers[55]?.status).toBe(429);
  });

  it('lets a burst of correct logins of one user through (10 × 10 at once, all 200)', async () => {
    const user = await t.userWithRole('viewer');
    for (let round = 0; round < 10; round += 1) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => login(t, '127.0.9.1', user.username, user.password)),
      );
      expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    }
  });

  it('answers Retry-After of at least 1 when the block ends within the second, and still refuses', async () => {
    const victim = await t.userWithRole('operator');
    const from = '127.0.10.1';
    for (let i = 0; i < DEFAULT_THROTTLE_POLICY.pair.free; i += 1) {
      expect((await login(t, from, victim.username, `guess-${i}`)).status).toBe(401);
    }
    t.clock.advance(DEFAULT_THROTTLE_POLICY.pair.baseSeconds * 1000 - 400);
    const late = await login(t, from, victim.username, victim.password);
    expect(late.status).toBe(429);
    expect(late.headers.get('retry-after')).toBe('1');
  });

  it('keeps an address’s failures across usernames when it logs in successfully', async () => {
    const from = '127.0.11.1';
    const { free } = DEFAULT_THROTTLE_POLICY.address;
    for (let i = 0; i < free - 1; i += 1) {
      expect((await login(t, from, `nobody-${i}`, 'Summer2026!')).status).toBe(401);
    }
    const user = await t.userWithRole('viewer');
    expect((await login(t, from, user.username, user.password)).status).toBe(200);
    // One more failure from that address reaches its budget: the success did not reset it.
    expect((await login(t, from, 'nobody-else', 'Summer2026!')).status).toBe(401);
    expect((await login(t, from, 'another', 'Summer2026!')).status).toBe(429);
  });

  it('blocks one address spraying many usernames', async () => {
    const sprayer = '127.0.3.1';
    const { free } = DEFAULT_THROTTLE_POLICY.address;
    for (let i = 0; i < free; i += 1) {
      expect((await login(t, sprayer, `user${i}`, 'Summer2026!')).status).toBe(401);
    }
    const blocked = await login(t, sprayer, 'someone-else', 'Summer2026!');
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('30');
    // A valid login from that address does not lift the address block either.
    expect((await login(t, sprayer, 'admin', TEST_ADMIN_PASSWORD)).status).toBe(429);
    expect((await login(t, '127.0.3.2', 'admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  });

  it('is shared by every replica on the same database', async () => {
    const replica = createAuthService({ sql: t.sql, clock: t.clock, config: t.config, log: t.services.log });
    const from = '127.0.4.1';
    for (let i = 0; i < DEFAULT_THROTTLE_POLICY.pair.free; i += 1) {
      expect((await login(t, from, 'admin', `guess-${i}`)).status).toBe(401);
    }
    let err: unknown;
    try {
      await replica.login(
        { clientAddress: from, audit: {} },
        { username: 'admin', password: TEST_ADMIN_PASSWORD },
      );
    } catch (e) {
      err = e;
    }
    expect(isServiceError(err, 'throttled')).toBe(true);
  });
});
