import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/config.ts';
import type { Sql } from '../store/sql.ts';
import { findUserById, findUserByUsername } from '../users/user-store.ts';
import { createAccessTokens } from './access-tokens.ts';
import { AuthError } from './auth-errors.ts';
import { DEFAULT_THROTTLE_POLICY, LoginThrottle, type ThrottlePolicy } from './login-throttle.ts';
import { createDummyVerifier, hashPassword, verifyPassword } from './passwords.ts';
import type { Principal, Role } from './principal.ts';
import {
  pruneDeadFamilies,
  revokeAllFamilies,
  revokeFamilyOf,
  rotateRefreshToken,
  storeRefreshToken,
} from './refresh-tokens.ts';
import { loadSigningKeys, type SigningKeys } from './signing-keys.ts';
import { UserStatusCache } from './user-status-cache.ts';

/** The seed's login and refresh answer, field for field. */
export interface TokenResponse {
  token: string;
  refresh_token: string;
  expires_in: number;
}

export interface AuthenticatedUser {
  id: string;
  username: string;
  role: Role;
}

export interface AuthService {
  /** Username + password → tokens. Throws AuthError `throttled` or `invalid_credentials`. */
  login(input: { username: string; password: string; clientAddress: string }): Promise<{
    tokens: TokenResponse;
    user: AuthenticatedUser;
  }>;
  /** Spends a refresh token for a new pair. Throws AuthError `invalid_refresh_token` or `refresh_token_reused`. */
  refresh(refreshToken: string): Promise<{ tokens: TokenResponse; user: AuthenticatedUser }>;
  /** Revokes the family of a refresh token owned by `userId`; false when there was nothing live to revoke. */
  logout(refreshToken: string, userId: string): Promise<boolean>;
  /**
   * Verifies a bearer access token and checks its user (a primary-key read, remembered for a second),
   * so a disabled or deleted user is locked out at once rather than when the token expires.
   * Throws AuthError `invalid_token`.
   */
  authenticate(accessToken: string): Promise<Principal>;
  /**
   * Checks a signed-in user's current password (before they change it) under the same throttle as
   * logins, so a stolen access token cannot be used to guess the password. Throws AuthError `throttled`.
   */
  confirmPassword(input: {
    username: string;
    passwordHash: string;
    password: string;
    clientAddress: string;
  }): Promise<boolean>;
  /** Ends every session of a user: all refresh-token families revoked. */
  revokeSessions(userId: string, reason: string): Promise<void>;
  /**
   * Tells this replica a user was disabled, enabled, deleted or changed, so its next request is
   * checked against the database (other replicas notice within a second; see UserStatusCache).
   */
  userChanged(userId: string): void;
  hashPassword(password: string): Promise<string>;
  verifyPassword(passwordHash: string, password: string): Promise<boolean>;
  readonly signingKeys: SigningKeys;
}

export interface AuthServiceDeps {
  sql: Sql;
  clock: Clock;
  config: Config;
  log: Logger;
  /** Tests may pass other limits; production uses the documented defaults. */
  throttlePolicy?: ThrottlePolicy;
  /** How long a replica trusts what it read about a user (default 1000 ms). */
  userCacheMs?: number;
}

export function createAuthService(deps: AuthServiceDeps): AuthService {
  const { sql, clock, config, log } = deps;
  const keys = loadSigningKeys(config.auth, config.dataDir);
  if (keys.generatedFile !== undefined) {
    log.warn(
      { file: keys.generatedFile, algorithm: keys.algorithm },
      'generated a JWT signing key in the data folder; set COCKPIT_JWT_SECRET or key files to share one across replicas',
    );
  }
  const accessTokens = createAccessTokens({
    keys,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    ttlSeconds: config.auth.accessTokenTtlSeconds,
    clock,
  });
  const throttle = new LoginThrottle(sql, deps.throttlePolicy ?? DEFAULT_THROTTLE_POLICY);
  const dummyVerify = createDummyVerifier();
  const refreshTtl = config.auth.refreshTokenTtlSeconds;
  const users = new UserStatusCache(async (id) => {
    const user = await findUserById(sql, id);
    return (
      user && { id: user.id, username: user.username, role: user.role, disabled: user.disabledAt !== null }
    );
  }, deps.userCacheMs);

  const tokensFor = (user: AuthenticatedUser, refreshToken: string): TokenResponse => {
    const access = accessTokens.issue(user);
    return { token: access.token, refresh_token: refreshToken, expires_in: access.expiresIn };
  };

  return {
    signingKeys: keys,
    hashPassword,
    verifyPassword,

    async login({ username, password, clientAddress }) {
      const now = clock.now();
      const wait = await throttle.retryAfter(clientAddress, username, now);
      if (wait > 0) {
        throw new AuthError('throttled', `too many failed logins; try again in ${wait} s`, wait);
      }
      const user = await findUserByUsername(sql, username);
      let ok = false;
      if (user === null || user.disabledAt !== null) {
        await dummyVerify(password);
      } else {
        ok = await verifyPassword(user.passwordHash, password);
      }
      if (!ok || user === null) {
        await throttle.recordFailure(clientAddress, username, now);
        throw new AuthError('invalid_credentials', 'invalid username or password');
      }
      await throttle.recordSuccess(clientAddress, username);
      const who = { id: user.id, username: user.username, role: user.role };
      await pruneDeadFamilies(sql, user.id, now);
      const refreshToken = await storeRefreshToken(sql, { userId: user.id, now, ttlSeconds: refreshTtl });
      return { tokens: tokensFor(who, refreshToken), user: who };
    },

    async refresh(refreshToken) {
      const outcome = await rotateRefreshToken(sql, refreshToken, clock.now(), refreshTtl);
      switch (outcome.kind) {
        case 'rotated':
          return { tokens: tokensFor(outcome.user, outcome.token), user: outcome.user };
        case 'reused':
          log.warn(
            { familyId: outcome.familyId, userId: outcome.userId },
            'refresh token reused: its whole family is revoked',
          );
          throw new AuthError(
            'refresh_token_reused',
            'refresh token already used; every token of this session is now revoked, log in again',
          );
        case 'invalid':
          throw new AuthError('invalid_refresh_token', 'refresh token is invalid, expired or revoked');
      }
    },

    logout: (refreshToken, userId) => revokeFamilyOf(sql, refreshToken, userId, clock.now()),

    async authenticate(accessToken) {
      const claims = accessTokens.verify(accessToken);
      const user = await users.get(claims.userId);
      if (user === null) throw new AuthError('invalid_token', 'user no longer exists');
      if (user.disabled) throw new AuthError('invalid_token', 'user is disabled');
      // The role comes from the user's current record; the claim must still be a valid role.
      return { userId: user.id, username: user.username, role: user.role, tokenId: claims.tokenId };
    },

    async confirmPassword({ username, passwordHash, password, clientAddress }) {
      const now = clock.now();
      const wait = await throttle.retryAfter(clientAddress, username, now);
      if (wait > 0) {
        throw new AuthError('throttled', `too many failed password checks; try again in ${wait} s`, wait);
      }
      const ok = await verifyPassword(passwordHash, password);
      if (ok) await throttle.recordSuccess(clientAddress, username);
      else await throttle.recordFailure(clientAddress, username, now);
      return ok;
    },

    async revokeSessions(userId, reason) {
      users.forget(userId);
      await revokeAllFamilies(sql, userId, clock.now(), reason);
    },

    userChanged: (userId) => users.forget(userId),
  };
}
