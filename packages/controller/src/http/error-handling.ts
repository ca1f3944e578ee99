import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isDatabaseConflict, isDatabaseUnavailable } from '../database/database-unavailable.ts';
import { isServiceError } from '../service-error.ts';
import { allowedMethods, literalPathMethods } from './allowed-methods.ts';
import { ApiError, codeForStatus, isApiError } from './api-error.ts';
import type { AppEnv } from './app-env.ts';
import { errorBody } from './error-envelope.ts';
import { toApiError } from './service-errors.ts';

/**
 * Every failure becomes the one envelope here, in tiers: our own ApiError as it is; a domain
 * service's ServiceError through its one mapping (service-errors.ts); Hono's HTTPException (malformed
 * JSON, wrong media type) by its status; the database gone or overloaded for now, or the request's
 * transaction rolled back for meeting a concurrent one, as 503 with Retry-After (nothing the client did
 * wrong, and the same request may be retried); anything else is a bug: logged with its stack, answered
 * 500 without it.
 */
/** Seconds a client is told to wait before retrying a request the database could not serve. */
const DATABASE_RETRY_AFTER_S = 1;

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (isApiError(err)) return respond(c, err);
  if (isServiceError(err)) return respond(c, toApiError(err));
  if (err instanceof HTTPException) return respond(c, fromHttpException(err));
  if (isDatabaseUnavailable(err)) {
    return retryLater(
      c,
      err,
      'database unavailable',
      'the database is unreachable or overloaded right now; retry shortly',
    );
  }
  if (isDatabaseConflict(err)) {
    return retryLater(
      c,
      err,
      'database conflict',
      'the request met a concurrent change in the database and was rolled back; retry it',
    );
  }
  c.get('services')?.log.error({ err }, 'unhandled error');
  return respond(c, new ApiError('internal', 'internal server error'));
};

/** 503 with Retry-After for a failure the same request may get past when sent again; logged as a warning. */
function retryLater(c: Context<AppEnv>, err: unknown, logged: string, message: string) {
  c.get('services')?.log.warn({ err }, logged);
  return respond(
    c,
    new ApiError('service_unavailable', message, {
      headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_S) },
      cause: err,
    }),
  );
}

/** No handler: 405 with `Allow` when the path exists with other methods, else 404. */
export function notFound(app: OpenAPIHono<AppEnv>): NotFoundHandler<AppEnv> {
  return (c) => {
    c.set('unrouted', true);
    const allow = allowedMethods(app.routes, c.req.path);
    if (allow.length > 0) return methodNotAllowed(c, allow);
    return respond(c, new ApiError('not_found', `no route for ${c.req.method} ${c.req.path}`));
  };
}

/**
 * Before the routes: a path that a route names word for word, asked with a method only a route with a
 * parameter there has (`GET /api/v1/hosts/join-tokens` against `GET /api/v1/hosts/{id}`), is a 405
 * naming the literal path's methods, as for any other known path asked with the wrong method.
 */
export function literalPathsFirst(app: OpenAPIHono<AppEnv>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const allow = literalPathMethods(app.routes, c.req.path);
    if (allow.length === 0 || allow.includes(c.req.method)) return next();
    c.set('unrouted', true);
    return methodNotAllowed(c, allow);
  };
}

function methodNotAllowed(c: Context<AppEnv>, allow: string[]): Response {
  return respond(
    c,
    new ApiError('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}`, {
      headers: { Allow: allow.join(', ') },
    }),
  );
}

function respond(c: Context<AppEnv>, err: ApiError): Response {
  c.set('errorCode', err.code);
  for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
  const requestId = c.get('requestId');
  if (requestId !== undefined) c.header('X-Request-Id', requestId);
  return c.json(errorBody(c, err.code, err.message, err.details), err.status as ContentfulStatusCode);
}

function fromHttpException(err: HTTPException): ApiError {
  const code = codeForStatus(err.status);
  const message =
    err.status === 415
      ? 'request body must be JSON (Content-Type: application/json)'
      : err.status >= 500
        ? 'internal server error'
        : err.message || code;
  return new ApiError(code, message, { cause: err });
}
