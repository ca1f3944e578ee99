import type { MiddlewareHandler } from 'hono';
import { type Role, roleAtLeast } from '../auth/principal.ts';
import { ApiError } from './api-error.ts';
import type { AuthedEnv } from './app-env.ts';

/** The OpenAPI security scheme `requireRole` enforces; `createApp` registers it as BEARER_SCHEME_NAME. */
export const BEARER_SCHEME_NAME = 'bearer';
export const BEARER_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description: 'An access token from `POST /api/v1/auth/login` or `POST /api/v1/auth/refresh`.',
} as const;

/** The OpenAPI security requirement of every route behind `requireRole` (set by `authedRoute`). */
export const BEARER_SECURITY: Array<Record<string, string[]>> = [{ [BEARER_SCHEME_NAME]: [] }];

export const BEARER_REALM = 'Bearer realm="cockpit"';

/** RFC 6750 §3: a 401 names the scheme, and `error="invalid_token"` when a token was presented and refused. */
// RFC 6750 §3: error_description is printable ASCII without `"` or `\`; anything else would also
// make the header value invalid (and the answer a 500).
const NOT_IN_DESCRIPTION = /[^\x20-\x7e]|["\\]/g;
export const invalidTokenChallenge = (description: string): string => {
  const said = description.replaceAll(NOT_IN_DESCRIPTION, "'");
  return `${BEARER_REALM}, error="invalid_token", error_description="${said}"`;
};

// RFC 6750 §2.1: "Bearer" (any case), one space, then a b64token.
const BEARER_HEADER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** The token of an `Authorization: Bearer <token>` header; undefined for any other value. */
export const bearerToken = (header: string): string | undefined => BEARER_HEADER.exec(header.trim())?.[1];

/**
 * Requires `Authorization: Bearer <access token>` of a user holding at least `role`, and puts the
 * principal on `c.var.caller`. Missing or malformed header, or a token that fails verification: 401
 * with a `WWW-Authenticate` challenge (RFC 6750 §3). A valid token of a lesser role: 403. Routes get
 * it from `authedRoute`, together with the OpenAPI security requirement that documents it.
 */
export function requireRole(role: Role): MiddlewareHandler<AuthedEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header === undefined || header.trim() === '') {
      throw new ApiError('unauthorized', 'this endpoint requires a bearer token', {
        headers: { 'WWW-Authenticate': BEARER_REALM },
      });
    }
    const token = bearerToken(header);
    if (token === undefined) {
      throw new ApiError('unauthorized', 'the Authorization header must be "Bearer <token>"', {
        headers: { 'WWW-Authenticate': `${BEARER_REALM}, error="invalid_request"` },
      });
    }
    // A refused token is a ServiceError `invalid_token`: onError answers it with its challenge.
    const principal = await c.get('services').auth.authenticate(token);
    c.set('caller', { ...c.get('caller'), principal });
    if (!roleAtLeast(principal.role, role)) {
      throw new ApiError('forbidden', `this endpoint requires the ${role} role`, {
        headers: { 'WWW-Authenticate': `${BEARER_REALM}, error="insufficient_scope"` },
      });
    }
    await next();
  };
}
