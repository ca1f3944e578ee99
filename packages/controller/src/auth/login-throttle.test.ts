import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postFrom } from '../../test/support/auth-test-helpers.ts';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';
import { isServiceError } from '../service-error.ts';
import { createAuthService } from './auth-service.ts';
import { blockSeconds, DEFAULT_THROTTLE_POLICY } from './login-throttle.ts';

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

  it('slows a distributed attack on one username only softly (seconds, capped at a minute)', async () => {
    const victim = await t.userWithRole('operator');
    const { free } = DEFAULT_THROTTLE_POLICY.username;
    for (let i = 0; i < free; i += 1) {
      expect((await login(t, `127.0.1.${i + 1}`, victim.username, `guess-${i}`)).status).toBe(401);
    }
    const blocked = await login(t, '127.0.2.1', victim.username, victim.password);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('2');
    t.clock.advance(2_000);
    expect((await login(t, '127.0.2.1', victim.username, victim.password)).status).toBe(200);
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
