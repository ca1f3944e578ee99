import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';

describe.each(['server', 'embedded'] as const)('POST /api/v1/auth/logout (%s database)', (database) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ database });
  });
  afterAll(async () => {
    await t.close();
  });

  it('revokes the refresh token’s whole family and leaves other sessions alone', async () => {
    const session = await t.login('admin', TEST_ADMIN_PASSWORD);
    const other = await t.login('admin', TEST_ADMIN_PASSWORD);
    const rotated = (
      await t.request('POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh_token } })
    ).body;
    const res = await t.request('POST', '/api/v1/auth/logout', {
      token: rotated.token,
      body: { refresh_token: rotated.refresh_token },
    });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const after = await t.request('POST', '/api/v1/auth/refresh', {
      body: { refresh_token: rotated.refresh_token },
    });
    expect(after.status).toBe(401);
    const otherRefresh = await t.request('POST', '/api/v1/auth/refresh', {
      body: { refresh_token: other.refresh_token },
    });
    expect(otherRefresh.status).toBe(200);
    // The audit row names the user whose session ended.
    const [audited] = await t.sql<{ target: string | null }[]>`
      select target from audit_log where path = '/api/v1/auth/logout' order by id desc limit 1`;
    expect(audited?.target).toMatch(/^user:[0-9a-f-]{36}$/);
  });

  it('requires a bearer token', async () => {
    const session = await t.login('admin', TEST_ADMIN_PASSWORD);
    const res = await t.request('POST', '/api/v1/auth/logout', {
      body: { refresh_token: session.refresh_token },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="cockpit"');
  });
});

describe('logout edge cases', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 204 but changes nothing for someone else’s or an unknown refresh token (RFC 7009 §2.2)', async () => {
    const admin = await t.login('admin', TEST_ADMIN_PASSWORD);
    const viewer = await t.userWithRole('viewer');
    for (const refresh_token of [admin.refresh_token, 'unknown-token']) {
      const res = await t.request('POST', '/api/v1/auth/logout', {
        token: viewer.tokens.token,
        body: { refresh_token },
      });
      expect(res.status).toBe(204);
    }
    const still = await t.request('POST', '/api/v1/auth/refresh', {
      body: { refresh_token: admin.refresh_token },
    });
    expect(still.status).toBe(200);
    // Nothing was revoked, so the audit rows name no target.
    const targets = await t.sql<{ target: string | null }[]>`
      select target from audit_log where path = '/api/v1/auth/logout' order by id desc limit 2`;
    expect(targets.map((r) => r.target)).toEqual([null, null]);
  });

  it('answers 400 naming the field', async () => {
    const admin = await t.login('admin', TEST_ADMIN_PASSWORD);
    for (const body of [{}, { refresh_token: '' }, { refresh_token: null }]) {
      const res = await t.request('POST', '/api/v1/auth/logout', { token: admin.token, body });
      expect(res.status).toBe(400);
      expect(res.body.error.details[0].path).toBe('body.refresh_token');
    }
  });
});
