import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  signWithAppSecret,
  unsignedToken,
  userIdOf,
  validClaims,
} from '../../test/support/auth-test-helpers.ts';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';

const INVALID = /^Bearer realm="cockpit", error="invalid_token", error_description="[^"]+"$/;

describe.each(['server', 'embedded'] as const)('bearer tokens (%s database)', (database) => {
  let t: TestApp;
  let adminId: string;
  beforeAll(async () => {
    t = await createTestApp({ database });
    const [row] = await t.sql<{ id: string }[]>`select id from users where username = 'admin'`;
    adminId = row?.id ?? '';
  });
  afterAll(async () => {
    await t.close();
  });

  const get = (token: string) => t.request('GET', '/api/v1/hosts', { token });

  it('accepts a token forged with the app’s own secret and valid claims (the control case)', async () => {
    expect((await get(signWithAppSecret(t, validClaims(t, adminId)))).status).toBe(200);
  });

  it.each([
    ['alg none', () => unsignedToken(validClaims(t, adminId))],
    ['alg none, upper case', () => unsignedToken(validClaims(t, adminId), { alg: 'NONE' })],
    [
      'a wrong signature',
      () =>
        jwt.sign(validClaims(t, adminId), 'another-secret-of-enough-length-0123456789', {
          algorithm: 'HS256',
          header: { alg: 'HS256', typ: 'at+jwt' },
        }),
    ],
    [
      'HS512 with the right secret (algorithm not allow-listed)',
      () =>
        jwt.sign(validClaims(t, adminId), t.config.auth.jwtSecret ?? '', {
          algorithm: 'HS512',
          header: { alg: 'HS512', typ: 'at+jwt' },
        }),
    ],
    ['a wrong issuer', () => signWithAppSecret(t, validClaims(t, adminId, { iss: 'someone-else' }))],
    ['a wrong audience', () => signWithAppSecret(t, validClaims(t, adminId, { aud: 'another-api' }))],
    [
      'an expired token',
      () =>
        signWithAppSecret(
          t,
          validClaims(t, adminId, { exp: Math.floor(t.clock.now().getTime() / 1000) - 1 }),
        ),
    ],
    ['no expiry', () => signWithAppSecret(t, validClaims(t, adminId, { exp: undefined }))],
    [
      'an iat in the future',
      () =>
        signWithAppSecret(
          t,
          validClaims(t, adminId, {
            iat: Math.floor(t.clock.now().getTime() / 1000) + 3600,
            exp: Math.floor(t.clock.now().getTime() / 1000) + 7200,
          }),
        ),
    ],
    ['no jti', () => signWithAppSecret(t, validClaims(t, adminId, { jti: undefined }))],
    ['no sub', () => signWithAppSecret(t, validClaims(t, adminId, { sub: undefined }))],
    ['an unknown role', () => signWithAppSecret(t, validClaims(t, adminId, { role: 'root' }))],
    ['typ claim refresh', () => signWithAppSecret(t, validClaims(t, adminId, { typ: 'refresh' }))],
    ['header typ JWT instead of at+jwt', () => signWithAppSecret(t, validClaims(t, adminId), { typ: 'JWT' })],
    [
      'a subject that is no user',
      () => signWithAppSecret(t, validClaims(t, adminId, { sub: '019e0014-0000-7000-8000-000000000000' })),
    ],
    ['garbage', () => 'not.a.jwt'],
  ])('refuses %s with 401 and an invalid_token challenge', async (_name, make) => {
    const res = await get(make());
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.headers.get('www-authenticate')).toMatch(INVALID);
  });

  it.each([
    [
      'a wrong issuer',
      () => validClaims(t, adminId, { iss: 'someone-else' }),
      'token is from another issuer',
    ],
    [
      'a wrong audience',
      () => validClaims(t, adminId, { aud: 'another-api' }),
      'token is for another audience',
    ],
    ['no iat', () => validClaims(t, adminId, { iat: undefined }), 'token has no issue time'],
    [
      'a subject that is not a UUID',
      () => validClaims(t, adminId, { sub: 'admin' }),
      'token has no valid subject',
    ],
    ['a numeric subject', () => validClaims(t, adminId, { sub: "1' or 1=1" }), 'token has no valid subject'],
  ])(
    'says in its own words what is wrong with %s, naming nothing it expected',
    async (_name, claims, why) => {
      const res = await get(signWithAppSecret(t, claims()));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer realm="cockpit", error="invalid_token", error_description="${why}"`,
      );
      // The exact challenge above already says it; the body names nothing it expected either.
      expect(res.text).not.toContain('expected');
      expect(res.text).not.toContain(t.config.auth.audience);
    },
  );

  it('answers garbage and a foreign signature without the library’s wording', async () => {
    const garbage = await get('not.a.jwt');
    expect(garbage.headers.get('www-authenticate')).toContain('error_description="token is malformed"');
    const foreign = jwt.sign(validClaims(t, adminId), 'another-secret-of-enough-length-0123456789', {
      algorithm: 'HS256',
      header: { alg: 'HS256', typ: 'at+jwt' },
    });
    const res = await get(foreign);
    expect(res.headers.get('www-authenticate')).toContain(
      'error_description="token signature does not match"',
    );
    expect(res.text).not.toMatch(/jwt |invalid signature/);
  });

  it('takes the subject in any letter case (a UUID is a value)', async () => {
    expect(
      (await get(signWithAppSecret(t, validClaims(t, adminId, { sub: adminId.toUpperCase() })))).status,
    ).toBe(200);
  });

  it('refuses a refresh token used as an access token', async () => {
    const tokens = await t.login('admin', TEST_ADMIN_PASSWORD);
    const res = await get(tokens.refresh_token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(INVALID);
  });

  it('refuses missing and malformed Authorization headers', async () => {
    const none = await t.request('GET', '/api/v1/hosts');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="cockpit"');
    for (const authorization of ['Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer a b', 'Token abc']) {
      const res = await t.request('GET', '/api/v1/hosts', { headers: { authorization } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="cockpit", error="invalid_request"');
    }
  });

  it('takes the scheme name in any case', async () => {
    const tokens = await t.login('admin', TEST_ADMIN_PASSWORD);
    const res = await t.request('GET', '/api/v1/hosts', {
      headers: { authorization: `bearer ${tokens.token}` },
    });
    expect(res.status).toBe(200);
  });

  it('refuses the access token of a user disabled or deleted since it was issued', async () => {
    const admin = await t.login('admin', TEST_ADMIN_PASSWORD);
    const a = await t.userWithRole('operator');
    const b = await t.userWithRole('operator');
    await t.request('POST', `/api/v1/users/${userIdOf(a.tokens.token)}/disable`, { token: admin.token });
    await t.request('DELETE', `/api/v1/users/${userIdOf(b.tokens.token)}`, { token: admin.token });
    const disabled = await get(a.tokens.token);
    expect(disabled.status).toBe(401);
    expect(disabled.headers.get('www-authenticate')).toContain('user is disabled');
    expect((await get(b.tokens.token)).status).toBe(401);
  });

  it('answers 403 with insufficient_scope to a valid token of a lesser role', async () => {
    const viewer = await t.userWithRole('viewer');
    const res = await t.request('GET', '/api/v1/users', { token: viewer.tokens.token });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="cockpit", error="insufficient_scope"');
  });
});
