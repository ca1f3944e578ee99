import { createRoute, type RouteConfig } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { ZodType } from 'zod';
import type { Role } from '../auth/principal.ts';
import type { ApiErrorCode } from './api-error.ts';
import type { AuthedEnv } from './app-env.ts';
import { errorResponses, JSON_BODY_ERRORS, REQUEST_ID_HEADER } from './error-envelope.ts';
import { GZIP_MIN_BYTES } from './json-text.ts';
import { BEARER_SECURITY, requireRole } from './require-role.ts';

/** A route's OpenAPI definition as a route file writes it: its success responses, and its own errors. */
export type RouteSpec = Omit<RouteConfig, 'security' | 'middleware' | 'hide' | 'operationId'> & {
  /** A stable name for client generators (`listHosts`, `disableUser`): required on every route. */
  operationId: string;
  /**
   * The error answers particular to this route (what its service may refuse with). Those that follow
   * from its kind are added by publicRoute/authedRoute: `validation_failed` when it takes
   * parameters, 413 and 415 when it takes a JSON body, 401 and 403 behind a token.
   */
  errors?: readonly ApiErrorCode[];
  /** Where this route's meaning of an error code is more precise than the general description. */
  errorDescriptions?: Partial<Record<ApiErrorCode, string>>;
};

/**
 * A route anyone may call, without a token: the OpenAPI document lists no security for it. Handlers
 * get the public context, whose caller has no principal.
 */
export function publicRoute<R extends RouteSpec>(spec: R) {
  const { errors = [], errorDescriptions, ...route } = spec;
  return createRoute({
    ...route,
    // Said explicitly (an empty requirement), so no reader or linter wonders whether it was forgotten.
    security: [],
    responses: withErrors(route, errors, errorDescriptions) as R['responses'],
  });
}

/**
 * A route that needs a bearer token of a user holding at least `role`. The OpenAPI security
 * requirement and the middleware that enforces it (`requireRole`) come from here together, so they
 * cannot drift apart; `middleware` given in the spec runs after it. Handlers get the authenticated
 * context: `c.var.caller.principal` is typed as present.
 */
export function authedRoute<R extends RouteSpec & { middleware?: MiddlewareHandler<AuthedEnv>[] }>(
  role: Role,
  spec: R,
) {
  const { errors = [], errorDescriptions, middleware = [], ...route } = spec;
  return createRoute({
    ...route,
    security: BEARER_SECURITY,
    // Typed as one middleware: the handler's context is what requireRole establishes.
    middleware: [requireRole(role), ...middleware] as [MiddlewareHandler<AuthedEnv>],
    responses: withErrors(
      route,
      [...errors, 'unauthorized', 'forbidden'],
      errorDescriptions,
    ) as R['responses'],
  });
}

function withErrors(
  route: Omit<RouteSpec, 'errors' | 'errorDescriptions'>,
  errors: readonly ApiErrorCode[],
  describe?: Partial<Record<ApiErrorCode, string>>,
) {
  const request = route.request;
  const takesInput =
    request?.params !== undefined || request?.query !== undefined || request?.body !== undefined;
  return {
    ...route.responses,
    ...errorResponses(
      [
        ...(takesInput ? (['validation_failed'] as const) : []),
        ...errors,
        ...(request?.body !== undefined ? JSON_BODY_ERRORS : []),
        // Any route reads the database: when it is gone for now, 503 (src/http/error-handling.ts).
        'service_unavailable',
      ],
      describe,
    ),
  };
}

/** A `responses` entry: a JSON answer of `schema`. */
export const jsonResponse = <S extends ZodType>(description: string, schema: S) => ({
  description,
  headers: REQUEST_ID_HEADER,
  content: { 'application/json': { schema } },
});

/**
 * A `responses` entry for JSON made ahead and sent with `sendJsonText` (src/http/json-text.ts): a JSON
 * answer of `schema` that may come gzip-encoded; decoded, it is the same bytes as the plain answer.
 */
export const jsonTextResponse = <S extends ZodType>(description: string, schema: S) => ({
  ...jsonResponse(description, schema),
  headers: {
    ...REQUEST_ID_HEADER,
    'Content-Encoding': {
      description:
        `\`gzip\` when the request accepts it (\`Accept-Encoding\`) and the body is ${GZIP_MIN_BYTES} bytes ` +
        'or more; absent otherwise.',
      schema: { type: 'string' as const, enum: ['gzip'] },
    },
    Vary: {
      description: '`Accept-Encoding`: the encoding depends on it.',
      schema: { type: 'string' as const },
    },
  },
});

/** A `request.body`: required JSON of `schema` (other media types are refused with 415). */
export const jsonBody = <S extends ZodType>(schema: S) => ({
  required: true as const,
  content: { 'application/json': { schema } },
});
