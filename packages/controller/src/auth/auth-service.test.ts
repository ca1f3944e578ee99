import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, userIdOf } from '../../test/support/auth-test-helpers.ts';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';
import { isServiceError } from '../service-error.ts';
import { createAuthService } from './auth-service.ts';

// No key configured: the first start generates one into the data folder. A second service over the
// same configuration (a restart) must accept the tokens of the first.
describe.each([
  ['HS256', { COCKPIT_JWT_SECRET: '' }],
  ['ES256', { COCKPIT_JWT_SECRET: '', COCKPIT_JWT_ALGORITHM: 'ES256' }],
])('generated %s signing key', (algorithm, env) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env });
  });
  afterAll(async () => {
    await t.close();
  });

  it('signs with it, and tokens survive a restart', async () => {
    const tokens = await t.login('admin', TEST_ADMIN_PASSWORD);
    expect(claimsOf(tokens.token).header.alg).toBe(algorithm);
    expect((await t.request('GET', '/api/v1/hosts', { token: tokens.token })).status).toBe(200);
    const restarted = createAuthService({
      sql: t.sql,
      clock: t.clock,
      config: t.config,
      log: t.services.log,
    });
    expect(restarted.signingKeys.generatedFile).toBeUndefined();
    const principal = await restarted.authenticate(tokens.token);
    expect(principal).toMatchObject({ username: 'admin', role: 'admin' });
    const refreshed = await restarted.refresh(
      { clientAddress: '127.0.0.1', audit: {} },
      tokens.refresh_token,
    );
    expect(refreshed.user.username).toBe('admin');
  });
});

describe('user status on each request', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('locks a disabled user out at once on this replica and within a second on another', async () => {
    const admin = await t.login('admin', TEST_ADMIN_PASSWORD);
    const user = await t.userWithRole('operator');
    const id = userIdOf(user.tokens.token);
    const other = createAuthService({ sql: t.sql, clock: t.clock, config: t.config, log: t.services.log });
    // Both replicas have now seen the user enabled.
    expect((await t.request('GET', '/api/v1/vms', { token: user.tokens.token })).status).toBe(200);
    expect((await other.authenticate(user.tokens.token)).username).toBe(user.username);

    expect((await t.request('POST', `/api/v1/users/${id}/disable`, { token: admin.token })).status).toBe(200);
    expect((await t.request('GET', '/api/v1/vms', { token: user.tokens.token })).status).toBe(401);

    const deadline = performance.now() + 5_000;
    let refusedAfterMs: number | undefined;
    const start = performance.now();
    while (refusedAfterMs === undefined && performance.now() < deadline) {
      try {
        await other.authenticate(user.tokens.token);
        await new Promise((resolve) => setTimeout(resolve, 50));
      } catch (err) {
        expect(isServiceError(err, 'invalid_token')).toBe(true);
        refusedAfterMs = performance.now() - start;
      }
    }
    expect(refusedAfterMs).toBeDefined();
    expect(refusedAfterMs).toBeLessThan(2_500);
  });
});
