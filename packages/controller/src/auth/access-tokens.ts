import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Clock } from '../clock.ts';
import { isUuid } from '../ids.ts';
import { ServiceError } from '../service-error.ts';
import { ROLES, type Role } from './principal.ts';
import type { SigningKeys } from './signing-keys.ts';

/** Explicit typing (RFC 8725 §3.11): the header says `at+jwt` (RFC 9068) and the `typ` claim says access. */
export const ACCESS_TOKEN_HEADER_TYP = 'at+jwt';
export const ACCESS_TOKEN_CLAIM_TYP = 'access';
// Tokens minted by another replica whose clock runs slightly ahead are still accepted.
const IAT_LEEWAY_SECONDS = 30;

export interface AccessTokenSettings {
  keys: SigningKeys;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  clock: Clock;
}

export interface VerifiedAccessToken {
  userId: string;
  role: Role;
  tokenId: string;
  issuedAt: number;
  expiresAt: number;
  /** The user's token generation at issue (claim `gen`; 0 for tokens from before it existed). */
  generation: number;
}

export interface AccessTokens {
  issue(user: { id: string; role: Role; tokenGeneration: number }): { token: string; expiresIn: number };
  /** Throws ServiceError('invalid_token') for anything but a token this controller issued and that is still valid. */
  verify(token: string): VerifiedAccessToken;
}

const nowSeconds = (clock: Clock): number => Math.floor(clock.now().getTime() / 1000);

/**
 * Tokens verified lately, by their whole text. A client polling with one token pays the signature check
 * once rather than per request (ES256: 0.1–0.2 ms of CPU each, as much as answering a cached page); the
 * checks that depend on the time are made again at every use. Only tokens that passed are kept.
 */
const VERIFIED_KEPT = 10_000;

export function createAccessTokens(settings: AccessTokenSettings): AccessTokens {
  const { keys, issuer, audience, ttlSeconds, clock } = settings;
  const verified = new Map<string, VerifiedAccessToken>();
  return {
    issue(user) {
      const iat = nowSeconds(clock);
      const token = jwt.sign(
        {
          typ: ACCESS_TOKEN_CLAIM_TYP,
          role: user.role,
          gen: user.tokenGeneration,
          iat,
          exp: iat + ttlSeconds,
        },
        keys.signKey,
        {
          algorithm: keys.algorithm,
          header: { alg: keys.algorithm, typ: ACCESS_TOKEN_HEADER_TYP },
          issuer,
          audience,
          subject: user.id,
          jwtid: randomUUID(),
        },
      );
      return { token, expiresIn: ttlSeconds };
    },

    verify(token) {
      const now = nowSeconds(clock);
      const known = verified.get(token);
      if (known !== undefined) {
        // The library's own test (expired at `exp`), and ours on the issue time.
        if (now < known.expiresAt && known.issuedAt <= now + IAT_LEEWAY_SECONDS) return known;
        verified.delete(token);
      }
      let decoded: jwt.Jwt;
      try {
        // The algorithm comes from our configuration, never from the token's header (RFC 8725 §3.1).
        decoded = jwt.verify(token, keys.verifyKey, {
          algorithms: [keys.algorithm],
          issuer,
          audience,
          clockTimestamp: now,
          complete: true,
        });
      } catch (err) {
        throw new ServiceError('invalid_token', describeJwtError(err), { cause: err });
      }
      const claims = Object.freeze(checkClaims(decoded, now));
      // The oldest entry makes room (a Map keeps insertion order).
      if (verified.size >= VERIFIED_KEPT) verified.delete(verified.keys().next().value as string);
      verified.set(token, claims);
      return claims;
    },
  };
}

function checkClaims(decoded: jwt.Jwt, now: number): VerifiedAccessToken {
  const invalid = (why: string) => new ServiceError('invalid_token', why);
  if (decoded.header.typ !== ACCESS_TOKEN_HEADER_TYP) throw invalid('not an access token');
  const p = decoded.payload;
  // Stryker disable next-line StringLiteral: unreachable with our options: jsonwebtoken refuses a payload that is no object (it has no aud)
  if (typeof p !== 'object' || p === null) throw invalid('malformed token');
  if (p.typ !== ACCESS_TOKEN_CLAIM_TYP) throw invalid('not an access token');
  // jsonwebtoken only checks exp when present: an access token without one is refused here.
  if (typeof p.exp !== 'number') throw invalid('token has no expiry');
  if (typeof p.iat !== 'number') throw invalid('token has no issue time');
  if (p.iat > now + IAT_LEEWAY_SECONDS) throw invalid('token issued in the future');
  // Users are UUIDs: any other subject was not minted by us for a user (and must not reach a query).
  if (typeof p.sub !== 'string' || !isUuid(p.sub)) throw invalid('token has no valid subject');
  if (typeof p.jti !== 'string' || p.jti === '') throw invalid('token has no id');
  const role = p.role;
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role))
    throw invalid('token has no valid role');
  const gen = p.gen ?? 0;
  // Number.isSafeInteger is false for anything that is not a number.
  if (!Number.isSafeInteger(gen) || gen < 0) throw invalid('token has no valid generation');
  return {
    generation: gen,
    userId: p.sub.toLowerCase(),
    role: role as Role,
    tokenId: p.jti,
    issuedAt: p.iat,
    expiresAt: p.exp,
  };
}

/**
 * Our own words for what was wrong, never the library's: its messages name the issuer and audience
 * it expected ("jwt audience invalid. expected: …"), which a caller has no business learning.
 */
function describeJwtError(err: unknown): string {
  if (err instanceof jwt.TokenExpiredError) return 'token expired';
  if (err instanceof jwt.NotBeforeError) return 'token not yet valid';
  // Stryker disable next-line ConditionalExpression: jsonwebtoken throws only its own errors (the two above derive from this one)
  if (err instanceof jwt.JsonWebTokenError) {
    const m = err.message;
    if (m.startsWith('jwt audience invalid')) return 'token is for another audience';
    if (m.startsWith('jwt issuer invalid')) return 'token is from another issuer';
    if (m === 'invalid signature') return 'token signature does not match';
    if (m === 'invalid algorithm') return 'token is signed with an algorithm this controller does not accept';
    if (m === 'jwt signature is required') return 'token is not signed';
    if (m === 'jwt must be provided') return 'token is missing';
    return 'token is malformed';
  }
  // Stryker disable next-line StringLiteral: kept for a library that one day throws something else; unreachable today
  return 'invalid token';
}
