import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/config.ts';
import type { Sql, Tx } from '../database/sql.ts';
import { ServiceError } from '../service-error.ts';
import { findCredentials, findUserStatus } from '../users/user-queries.ts';
import { createAccessTokens } from './access-tokens.ts';
import type { TokenResponse } from './auth-schema.ts';
import type { Caller, SignedInCaller } from './caller.ts';
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

export interface AuthenticatedUser {
  id: string;
  username: string;
  role: Role;
  /** New access tokens carry it; see 0005_token_generation.sql. */
  tokenGeneration: number;
}

export interface AuthService {
  /** Username + password → tokens. Throws ServiceError `throttled` or `invalid_credentials`. */
  login(
    caller: Caller,
    input: { username: string; password: string },
  ): Promise<{ tokens: TokenResponse; user: AuthenticatedUser }>;
  /** Spends a refresh token for a new pair. Throws ServiceError `invalid_refresh_token` or `refresh_token_reused`. */
  refresh(caller: Caller, refreshToken: string): Promise<{ tokens: TokenResponse; user: AuthenticatedUser }>;
  /**
   * Revokes the family of a refresh token owned by the caller; false when there was nothing live to
   * revoke (an unknown or someone else's token changes nothing, RFC 7009 §2.2).
   */
  logout(caller: SignedInCaller, refreshToken: string): Promise<boolean>;
  /**
   * Verifies a bearer access token and checks its user (a primary-key read, remembered for a second),
   * so a disabled or deleted user is locked out at once rather than when the token expires.
   * Throws ServiceError `invalid_token`.
   */
  authenticate(accessToken: string): Promise<Principal>;
  /**
   * Checks a signed-in user's current password (before they change it) under the same throttle as
   * logins, so a stolen access token cannot be used to guess the password. Throws ServiceError `throttled`.
   */
  confirmPassword(input: {
    username: string;
    passwordHash: string;
    password: string;
    clientAddress: string;
  }): Promise<boolean>;
  /** Ends every session of a user (all refresh-token families revoked), in `tx` when given. */
  revokeSessions(userId: string, reason: string, tx?: Tx): Promise<void>;
  /**
   * Tells this replica a user was disabled, enabled, deleted or changed, so its next request is
   * checked against the database (other replicas notice within a second; see UserStatusCache).
   */
  userChanged(userId: string): void;
  hashPassword(password: string): Promise<string>;
  verifyPassword(passwordHash: string, password: string): Promise<boolean>;
  readonly signingKeys: SigningKeys;
}

export interface AuthOptions {
  /** Tests may pass other limits; production uses the documented defaults. */
  throttlePolicy?: ThrottlePolicy;
  /** How long a replica trusts what it read about a user (default 1000 ms). */
  userCacheMs?: number;
}

export interface AuthServiceDeps extends AuthOptions {
  sql: Sql;
  clock: Clock;
  config: Config;
  log: Logger;
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
  const users = new UserStatusCache((id) => findUserStatus(sql, id), deps.userCacheMs);

  const tokensFor = (user: AuthenticatedUser, refreshToken: string): TokenResponse => {
    const access = accessTokens.issue(user);
    return { token: access.token, refresh_token: refreshToken, expires_in: access.expiresIn };
  };
  const throttled = (what: string, wait: number) =>
    new ServiceError('throttled', `too many failed ${what}; try again in ${wait} s`, {
      retryAfterSeconds: wait,
    });

  return {
    signingKeys: keys,
    hashPassword,
    verifyPassword,

    async login(caller, { username, password }) {
      caller.audit.actorUsername = username;
      const now = clock.now();
      const claim = await throttle.claim(caller.clientAddress, username, now);
      if (claim.kind === 'blocked') throw throttled('logins', claim.retryAfterSeconds);
      let found: Awaited<ReturnType<typeof findCredentials>> = null;
      let ok = false;
      try {
        found = await findCredentials(sql, { username });
        if (found === null || found.user.disabled) {
          await dummyVerify(password);
        } else {
          ok = await verifyPassword(found.passwordHash, password);
        }
      } finally {
        await claim.attempt.settle(ok);
      }
      if (!ok || found === null)
        throw new ServiceError('invalid_credentials', 'invalid username or password');
      const { id, role } = found.user;
      const who = { id, username: found.user.username, role, tokenGeneration: found.tokenGeneration };
      Object.assign(caller.audit, { actorId: id, target: `user:${id}` });
      // One transaction: another login's prune can never remove this login's new family.
      const refreshToken = await sql.begin(async (tx) => {
        await pruneDeadFamilies(tx, id, now);
        return storeRefreshToken(tx, { userId: id, now, ttlSeconds: refreshTtl });
      });
      return { tokens: tokensFor(who, refreshToken), user: who };
    },

    async refresh(caller, refreshToken) {
      const outcome = await rotateRefreshToken(sql, refreshToken, clock.now(), refreshTtl);
      switch (outcome.kind) {
        case 'rotated': {
          const { user } = outcome;
          Object.assign(caller.audit, {
            actorId: user.id,
            actorUsername: user.username,
            target: `user:${user.id}`,
          });
          return { tokens: tokensFor(user, outcome.token), user };
        }
        case 'reused':
          // The token's owner is known: the audit row names them (a stolen token may be in play).
          Object.assign(caller.audit, { actorId: outcome.userId, target: `user:${outcome.userId}` });
          log.warn(
            { familyId: outcome.familyId, userId: outcome.userId },
            'refresh token reused: its whole family is revoked',
          );
          throw new ServiceError(
            'refresh_token_reused',
            'refresh token already used; every token of this session is now revoked, log in again',
          );
        case 'invalid':
          throw new ServiceError('invalid_refresh_token', 'refresh token is invalid, expired or revoked');
      }
    },

    async logout(caller, refreshToken) {
      const { userId } = caller.principal;
      const revoked = await revokeFamilyOf(sql, refreshToken, userId, clock.now());
      if (revoked) caller.audit.target = `user:${userId}`;
      return revoked;
    },

    async authenticate(accessToken) {
      const claims = accessTokens.verify(accessToken);
      const user = await users.get(claims.userId);
      if (user === null) throw new ServiceError('invalid_token', 'user no longer exists');
      if (user.disabled) throw new ServiceError('invalid_token', 'user is disabled');
      if (claims.generation < user.tokenGeneration) {
        throw new ServiceError(
          'invalid_token',
          "token predates a change of the user's password, role or status; log in again",
        );
      }
      // The role comes from the user's current record; the claim must still be a valid role.
      return { userId: user.id, username: user.username, role: user.role, tokenId: claims.tokenId };
    },

    async confirmPassword({ username, passwordHash, password, clientAddress }) {
      const now = clock.now();
      const claim = await throttle.claim(clientAddress, username, now);
      if (claim.kind === 'blocked') throw throttled('password checks', claim.retryAfterSeconds);
      let ok = false;
      try {
        ok = await verifyPassword(passwordHash, password);
      } finally {
        await claim.attempt.settle(ok);
      }
      return ok;
    },

    async revokeSessions(userId, reason, tx) {
      await revokeAllFamilies(tx ?? sql, userId, clock.now(), reason);
    },

    userChanged: (userId) => users.forget(userId),
  };
}
