import { randomUUID } from 'node:crypto';
import { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import postgres from 'postgres';
import type { ZodError } from 'zod';
import { clientAddress } from '../auth/client-address.ts';
import { registerRoutes } from '../routes/index.ts';
import { allowedMethods } from './allowed-methods.ts';
import { ApiError, type ApiErrorCode, type FieldIssue, isApiError } from './api-error.ts';
import type { AppEnv, Services } from './app-env.ts';
import { errorBody } from './error-envelope.ts';

export const OPENAPI_PATH = '/api/v1/openapi.json';
export const DOCS_PATH = '/docs';

// A caller's request id is kept when it is short and plain, so it can be followed through their logs
// and ours; anything else (log injection, megabyte headers) is replaced.
const INCOMING_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The whole HTTP API: request ids, request logs, services in the typed context, body limit, the
 * error envelope for every failure, the routes, and the OpenAPI document generated from their schemas.
 */
export function createApp(services: Services): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    // Every zod failure of params, query, headers or body: 400 naming each field.
    defaultHook: (result) => {
      if (!result.success) throw validationFailed(result.target, result.error);
    },
  });

  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming !== undefined && INCOMING_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    c.set('services', withRequestLog(services, requestId));
    const started = performance.now();
    await next();
    // On the response's headers directly: `c.header()` after the response exists rebuilds it, which
    // makes @hono/node-server give up its fast path for plain bodies.
    try {
      c.res.headers.set('X-Request-Id', requestId);
    } catch {
      // A handler returned a Response with immutable headers (e.g. a proxied fetch): it goes out as is.
    }
    const status = c.res.status;
    services.log[status >= 500 ? 'error' : 'info'](
      {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        user: c.get('principal')?.username,
        client: clientAddress(c),
      },
      'request',
    );
  });

  const limitBody = bodyLimit({
    maxSize: services.config.http.bodyLimitBytes,
    onError: () => {
      throw new ApiError(
        'payload_too_large',
        `request body is larger than ${services.config.http.bodyLimitBytes} bytes`,
      );
    },
  });
  // Only requests that carry a body go through the limit: it reads `c.req.raw`, which makes
  // @hono/node-server build a full Request object, a cost most requests (GETs) need not pay.
  app.use('*', (c, next) => {
    const length = c.req.header('content-length');
    const hasBody =
      (length !== undefined && length !== '0') || c.req.header('transfer-encoding') !== undefined;
    return hasBody ? limitBody(c, next) : next();
  });

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from `POST /api/v1/auth/login` or `POST /api/v1/auth/refresh`.',
  });

  registerRoutes(app);

  app.doc31(OPENAPI_PATH, {
    openapi: '3.1.0',
    info: {
      title: 'Cockpit API',
      version: '1',
      description: 'Control virtual machines and the hypervisor hosts that run them.',
    },
  });
  app.get(DOCS_PATH, Scalar({ url: OPENAPI_PATH, pageTitle: 'Cockpit API' }));

  app.notFound((c) => {
    const allow = allowedMethods(app.routes, c.req.path);
    if (allow.length > 0) {
      return respond(
        c,
        new ApiError('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}`, {
          headers: { Allow: allow.join(', ') },
        }),
      );
    }
    return respond(c, new ApiError('not_found', `no route for ${c.req.method} ${c.req.path}`));
  });

  app.onError((err, c) => {
    if (isApiError(err)) return respond(c, err);
    if (err instanceof HTTPException) return respond(c, fromHttpException(err));
    if (isUnstorableText(err)) {
      return respond(
        c,
        new ApiError('bad_request', 'request contains characters that cannot be stored (NUL)'),
      );
    }
    c.var.services?.log.error({ err }, 'unhandled error');
    return respond(c, new ApiError('internal', 'internal server error'));
  });

  return app;
}

// Handlers log through `c.var.services.log`, which carries the request id. The child logger is made
// on first use only: most requests log nothing but the request line, and a child per request costs.
function withRequestLog(services: Services, requestId: string): Services {
  let child: Services['log'] | undefined;
  return {
    ...services,
    get log() {
      child ??= services.log.child({ requestId });
      return child;
    },
  };
}

function respond(c: Context<AppEnv>, err: ApiError): Response {
  for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
  const requestId = c.get('requestId');
  if (requestId !== undefined) c.header('X-Request-Id', requestId);
  return c.json(errorBody(c, err.code, err.message, err.details), err.status as ContentfulStatusCode);
}

// Field paths name the part of the request as a client sees it: `body.username`, `query.limit`, `path.id`.
const TARGET_NAMES: Record<string, string> = { json: 'body', form: 'body', param: 'path' };

// PostgreSQL text cannot hold NUL (U+0000); a request carrying one reaches the database only as a value
// the client sent (JSON allows "\u0000"), so that refusal is the client's mistake on any route.
const CHARACTER_NOT_IN_REPERTOIRE = '22021';
const isUnstorableText = (err: unknown): boolean =>
  err instanceof postgres.PostgresError && err.code === CHARACTER_NOT_IN_REPERTOIRE;

function validationFailed(target: string, error: ZodError): ApiError {
  const part = TARGET_NAMES[target] ?? target;
  const details: FieldIssue[] = error.issues.map((issue) => ({
    path: [part, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  const fields = [...new Set(details.map((d) => d.path))].join(', ');
  return new ApiError('validation_failed', `invalid request: ${fields}`, { details });
}

// Hono and its middleware signal client mistakes with HTTPException (malformed JSON, wrong media type).
const HTTP_EXCEPTION_CODES: Record<number, ApiErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  503: 'service_unavailable',
};

function fromHttpException(err: HTTPException): ApiError {
  const code = HTTP_EXCEPTION_CODES[err.status] ?? (err.status < 500 ? 'bad_request' : 'internal');
  const message =
    err.status === 415
      ? 'request body must be JSON (Content-Type: application/json)'
      : err.status >= 500
        ? 'internal server error'
        : err.message || code;
  return new ApiError(code, message, { cause: err });
}
