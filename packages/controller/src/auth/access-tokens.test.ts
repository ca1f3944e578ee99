import { createHmac, createSecretKey, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { isServiceError } from '../service-error.ts';
import { createAccessTokens } from './access-tokens.ts';
import type { SigningKeys } from './signing-keys.ts';

// Access tokens on their own (no HTTP, no database): every claim check and every library error, each
// with the exact words the caller gets, and the boundaries of the time checks.
const SECRET = 'access-token-unit-test-secret-0123456789abcdef';
const key = createSecretKey(Buffer.from(SECRET));
const keys: SigningKeys = { algorithm: 'HS256', signKey: key, verifyKey: key, source: 'configured' };
const clock = new ManualClock(new Date('2026-06-01T12:00:00Z'));
const tokens = createAccessTokens({
  keys,
  issuer: 'cockpit',
  audience: 'cockpit-api',
  ttlSeconds: 3600,
  clock,
});
const now = () => Math.floor(clock.now().getTime() / 1000);
const userId = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

/** A token with our claims, `overrides` applied (undefined removes a claim), signed with our key. */
function forge(
  overrides: Record<string, unknown> = {},
  header: Record<string, unknown> = { typ: 'at+jwt' },
): string {
  const claims: Record<string, unknown> = {
    typ: 'access',
    role: 'operator',
    gen: 3,
    iat: now(),
    exp: now() + 60,
    iss: 'cockpit',
    aud: 'cockpit-api',
    sub: userId,
    jti: randomUUID(),
    ...overrides,
  };
  // Signed by hand, not with jwt.sign: it refuses some of the malformed claims these tests need.
  const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', ...header })}.${part(claims)}`;
  return `${unsigned}.${createHmac('sha256', SECRET).update(unsigned).digest('base64url')}`;
}

/** The message of the invalid_token error `verify` throws, or a note that it threw something else. */
function refusal(token: string): string {
  try {
    tokens.verify(token);
  } catch (err) {
    if (isServiceError(err) && err.code === 'invalid_token') return err.message;
    return `unexpected: ${String(err)}`;
  }
  return 'accepted';
}

describe('access tokens', () => {
  it('issues a token that verifies to its user, role and generation, valid for the configured time', () => {
    const { token, expiresIn } = tokens.issue({ id: userId, role: 'admin', tokenGeneration: 7 });
    expect(expiresIn).toBe(3600);
    const header = jwt.decode(token, { complete: true })?.header;
    expect(header).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    const v = tokens.verify(token);
    expect(v).toMatchObject({
      userId,
      role: 'admin',
      generation: 7,
      issuedAt: now(),
      expiresAt: now() + 3600,
    });
    expect(v.tokenId).toMatch(/^[0-9a-f-]{36}$/);
    expect(jwt.decode(token)).toMatchObject({
      typ: 'access',
      iss: 'cockpit',
      aud: 'cockpit-api',
      sub: userId,
    });
    // A second token of the same user has its own id.
    expect(
      tokens.verify(tokens.issue({ id: userId, role: 'admin', tokenGeneration: 7 }).token).tokenId,
    ).not.toBe(v.tokenId);
  });

  it('is valid until its last second and expired at its expiry', () => {
    const { token } = tokens.issue({ id: userId, role: 'viewer', tokenGeneration: 0 });
    let moved = 0;
    const advance = (ms: number) => {
      clock.advance(ms);
      moved += ms;
    };
    try {
      advance(3599_000);
      expect(tokens.verify(token).role).toBe('viewer');
      advance(1_000);
      expect(refusal(token)).toBe('token expired');
    } finally {
      clock.advance(-moved);
    }
  });

  it('checks a token it verified before by its whole text, and its times again at each use', () => {
    const { token } = tokens.issue({ id: userId, role: 'operator', tokenGeneration: 2 });
    const first = tokens.verify(token);
    expect(tokens.verify(token)).toBe(first); // kept, not decoded again
    // One character of the signature changed: not the token kept, so checked and refused.
    const [head, body, signature] = token.split('.') as [string, string, string];
    const other = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    expect(refusal(`${head}.${body}.${other}`)).toBe('token signature does not match');
    // The times are checked again at each use: a clock set back past the leeway refuses a kept
    // token, and a kept token expires as any other.
    let moved = 0;
    const advance = (ms: number) => {
      clock.advance(ms);
      moved += ms;
    };
    try {
      advance(-31_000);
      expect(refusal(token)).toBe('token issued in the future');
      advance(31_000);
      expect(tokens.verify(token).role).toBe('operator');
      advance(3600_000);
      expect(refusal(token)).toBe('token expired');
    } finally {
      clock.advance(-moved);
    }
  });

  it('accepts an issue time up to 30 s ahead (another replica’s clock), not 31', () => {
    expect(tokens.verify(forge({ iat: now() + 30 })).issuedAt).toBe(now() + 30);
    expect(refusal(forge({ iat: now() + 31 }))).toBe('token issued in the future');
  });

  it('reads a subject in any letter case as the same user, and a missing generation as 0', () => {
    const v = tokens.verify(forge({ sub: userId.toUpperCase(), gen: undefined }));
    expect(v.userId).toBe(userId);
    expect(v.generation).toBe(0);
  });

  // Tokens are made inside each test: a title holding a token (random id, the time) would differ between runs.
  it.each([
    ['a header typ other than at+jwt', 'not an access token', () => forge({}, { typ: 'JWT' })],
    ['no header typ', 'not an access token', () => forge({}, {})],
    ['a refresh typ claim', 'not an access token', () => forge({ typ: 'refresh' })],
    ['no typ claim', 'not an access token', () => forge({ typ: undefined })],
    ['no expiry', 'token has no expiry', () => forge({ exp: undefined })],
    ['no issue time', 'token has no issue time', () => forge({ iat: undefined })],
    ['a text issue time', 'token has no issue time', () => forge({ iat: String(now()) })],
    ['no subject', 'token has no valid subject', () => forge({ sub: undefined })],
    ['a subject that is no UUID', 'token has no valid subject', () => forge({ sub: 'admin' })],
    ['no token id', 'token has no id', () => forge({ jti: undefined })],
    ['an empty token id', 'token has no id', () => forge({ jti: '' })],
    ['a numeric token id', 'token has no id', () => forge({ jti: 42 })],
    ['no role', 'token has no valid role', () => forge({ role: undefined })],
    ['an unknown role', 'token has no valid role', () => forge({ role: 'root' })],
    ['a role that is no string', 'token has no valid role', () => forge({ role: ['admin'] })],
    ['a negative generation', 'token has no valid generation', () => forge({ gen: -1 })],
    ['a fractional generation', 'token has no valid generation', () => forge({ gen: 1.5 })],
    ['a text generation', 'token has no valid generation', () => forge({ gen: '1' })],
    ['an unsafe generation', 'token has no valid generation', () => forge({ gen: 2 ** 53 })],
  ])('refuses %s: "%s"', (_name, why, make) => {
    expect(refusal(make())).toBe(why);
  });

  it('accepts the edge values of each claim', () => {
    expect(tokens.verify(forge({ gen: 0 })).generation).toBe(0);
    expect(tokens.verify(forge({ gen: Number.MAX_SAFE_INTEGER })).generation).toBe(Number.MAX_SAFE_INTEGER);
    for (const role of ['viewer', 'operator', 'admin'])
      expect(tokens.verify(forge({ role })).role).toBe(role);
  });

  it.each([
    ['an expired token', () => forge({ iat: now() - 120, exp: now() - 60 }), 'token expired'],
    ['a token not valid yet', () => forge({ nbf: now() + 60 }), 'token not yet valid'],
    ['another audience', () => forge({ aud: 'another-api' }), 'token is for another audience'],
    ['another issuer', () => forge({ iss: 'someone-else' }), 'token is from another issuer'],
    [
      'a foreign signature',
      () => jwt.sign({ sub: userId }, 'another-secret-of-enough-length-0123456789', { algorithm: 'HS256' }),
      'token signature does not match',
    ],
    [
      'an algorithm not allowed',
      () => jwt.sign({ sub: userId }, SECRET, { algorithm: 'HS512' }),
      'token is signed with an algorithm this controller does not accept',
    ],
    ['no signature', () => `${forge().split('.').slice(0, 2).join('.')}.`, 'token is not signed'],
    ['alg none', () => jwt.sign({ sub: userId }, '', { algorithm: 'none' }), 'token is not signed'],
    ['an empty token', () => '', 'token is missing'],
    ['garbage', () => 'not.a.jwt', 'token is malformed'],
  ])('says in its own words what is wrong with %s', (_name, make, why) => {
    expect(refusal(make())).toBe(why);
  });

  it("keeps the library's error as the cause, for the logs", () => {
    let thrown: unknown;
    try {
      tokens.verify('not.a.jwt');
    } catch (err) {
      thrown = err;
    }
    expect(isServiceError(thrown) && thrown.cause).toBeInstanceOf(jwt.JsonWebTokenError);
  });
});
