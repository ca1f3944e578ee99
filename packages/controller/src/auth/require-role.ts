import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../http/api-error.ts';
import type { AppEnv } from '../http/app-env.ts';
import { BEARER_REALM, isAuthError, toApiError } from './auth-errors.ts';
import { type Role, roleAtLeast } from './principal.ts';

/** OpenAPI security requirement for routes guarded by `requireRole`; `createApp` registers the `bearer` scheme it names. */
export const BEARER_SECURITY: Array<Record<string, string[]>> = [{ bearer: [] }];

// RFC 6750 §2.1: "Bearer" (any case), one space, then a b64token.
const BEARER_HEADER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * Requires `Authorization: Bearer <access token>` of a user holding at least `role`, and sets
 * `c.var.principal`. Missing or malformed header, or a token that fails verification: 401 with a
 * `WWW-Authenticate` challenge (RFC 6750 §3). A valid token of a lesser role: 403.
 */
export function requireRole(role: Role): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header === undefined || header.trim() === '') {
      throw new ApiError('unauthorized', 'this endpoint requires a bearer token', {
        headers: { 'WWW-Authenticate': BEARER_REALM },
      });
    }
    const match = BEARER_HEADER.exec(header.trim());
    if (match?.[1] === undefined) {
      throw new ApiError('unauthorized', 'the Authorization header must be "Bearer <token>"', {
        headers: { 'WWW-Authenticate': `${BEARER_REALM}, error="invalid_request"` },
      });
    }
    let principal: AppEnv['Variables']['principal'];
    try {
      principal = await c.var.services.auth.authenticate(match[1]);
    } catch (err) {
      if (isAuthError(err)) throw toApiError(err);
      throw err;
    }
    c.set('principal', principal);
    if (!roleAtLeast(principal.role, role)) {
      throw new ApiError('forbidden', `this endpoint requires the ${role} role`, {
        headers: { 'WWW-Authenticate': `${BEARER_REALM}, error="insufficient_scope"` },
      });
    }
    await next();
  };
}
