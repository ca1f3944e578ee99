import { ApiError } from '../http/api-error.ts';

/** Why an authentication step failed. Routes turn these into ApiErrors with `toApiError`. */
export type AuthErrorCode =
  /** Unknown user, wrong password or disabled user: deliberately one code so callers cannot tell which. */
  | 'invalid_credentials'
  /** Too many failed logins; `retryAfterSeconds` says when to try again. */
  | 'throttled'
  /** Unknown, expired or revoked refresh token. */
  | 'invalid_refresh_token'
  /** An already-rotated refresh token came back: its whole family is now revoked. */
  | 'refresh_token_reused'
  /** A bearer access token that fails verification, or whose user is gone or disabled. */
  | 'invalid_token';

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isAuthError = (err: unknown): err is AuthError => err instanceof AuthError;
export const isAuthErrorCode = (err: unknown, code: AuthErrorCode): boolean =>
  isAuthError(err) && err.code === code;

export const BEARER_REALM = 'Bearer realm="cockpit"';

/** RFC 6750 §3: a 401 names the scheme, and `error="invalid_token"` when a token was presented and refused. */
export const invalidTokenChallenge = (description: string): string =>
  `${BEARER_REALM}, error="invalid_token", error_description="${description.replaceAll('"', "'")}"`;

export function toApiError(err: AuthError): ApiError {
  switch (err.code) {
    case 'throttled':
      return new ApiError('too_many_requests', err.message, {
        headers: { 'Retry-After': String(err.retryAfterSeconds ?? 1) },
        details: { retry_after_seconds: err.retryAfterSeconds ?? 1 },
        cause: err,
      });
    case 'invalid_token':
      return new ApiError('unauthorized', err.message, {
        headers: { 'WWW-Authenticate': invalidTokenChallenge(err.message) },
        cause: err,
      });
    // RFC 9110 §15.5.2: every 401 carries a challenge, also on the login and refresh endpoints.
    case 'invalid_credentials':
    case 'invalid_refresh_token':
    case 'refresh_token_reused':
      return new ApiError('unauthorized', err.message, {
        headers: { 'WWW-Authenticate': BEARER_REALM },
        cause: err,
      });
  }
}
