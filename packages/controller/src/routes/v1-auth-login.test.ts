import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf } from '../../test/support/auth-test-helpers.ts';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';

// The core runs against a real PostgreSQL server and against the embedded PGlite default.
describe.each(['server', 'embedded'] as const)('POST /api/v1/auth/login (%s database)', (database) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ database });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers the seed’s shape with a verifiable access token', async () => {
    const res = await t.request('POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: TEST_ADMIN_PASSWORD },
    });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['expires_in', 'refresh_token', 'token']);
    expect(res.body.expires_in).toBe(3600);
    expect(res.body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { header, payload } = claimsOf(res.body.token);
    expect(header).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expect(payload).toMatchObject({
      typ: 'access',
      role: 'admin',
      iss: t.config.auth.issuer,
      aud: t.config.auth.audience,
    });
    const p = payload as Record<string, number | string>;
    expect(p.iat).toBe(Math.floor(t.clock.now().getTime() / 1000));
    expect(Number(p.exp) - Number(p.iat)).toBe(3600);
    expect(typeof p.jti).toBe('string');
    const hosts = await t.request('GET', '/api/v1/hosts', { token: res.body.token });
    expect(hosts.status).toBe(200);
  });

  it('refuses a wrong password and an unknown user alike', async () => {
    const wrong = await t.request('POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: 'not-the-password' },
    });
    const unknown = await t.request('POST', '/api/v1/auth/login', {
      body: { username: 'nobody', password: 'not-the-password' },
    });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({ code: 'unauthorized', message: 'invalid username or password' });
      expect(res.body.error.requestId).toBe(res.headers.get('x-request-id'));
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="cockpit"');
    }
  });

  it('lets the access token expire after expires_in seconds', async () => {
    const tokens = await t.login('admin', TEST_ADMIN_PASSWORD);
    t.clock.advance(3599_000);
    expect((await t.request('GET', '/api/v1/hosts', { token: tokens.token })).status).toBe(200);
    t.clock.advance(1_000);
    const expired = await t.request('GET', '/api/v1/hosts', { token: tokens.token });
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toBe(
      'Bearer realm="cockpit", error="invalid_token", error_description="token expired"',
    );
  });
});

describe('POST /api/v1/auth/login validation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const cases: Array<[string, unknown, string[]]> = [
    ['an empty object', {}, ['body.username', 'body.password']],
    ['a missing password', { username: 'admin' }, ['body.password']],
    ['an empty username', { username: '', password: 'x' }, ['body.username']],
    ['a number as username', { username: 7, password: 'x' }, ['body.username']],
    ['an overlong password', { username: 'admin', password: 'x'.repeat(1025) }, ['body.password']],
    ['an overlong username', { username: 'a'.repeat(257), password: 'x' }, ['body.username']],
  ];
  it.each(cases)('answers 400 naming the field for %s', async (_name, body, fields) => {
    const res = await t.request('POST', '/api/v1/auth/login', { body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    const paths = (res.body.error.details as Array<{ path: string }>).map((d) => d.path);
    expect([...new Set(paths)].sort()).toEqual([...fields].sort());
  });

  it('answers 400 to malformed JSON and 415 to a body that is not JSON', async () => {
    const malformed = await t.request('POST', '/api/v1/auth/login', {
      rawBody: '{"username":',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    const form = await t.request('POST', '/api/v1/auth/login', {
      rawBody: 'username=admin',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
  });
});
