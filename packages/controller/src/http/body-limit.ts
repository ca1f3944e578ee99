import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from './api-error.ts';
import type { AppEnv } from './app-env.ts';

/** Refuses bodies over `maxBytes` with 413, with or without a Content-Length. */
export function limitBodies(maxBytes: number): MiddlewareHandler<AppEnv> {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError('payload_too_large', `request body is larger than ${maxBytes} bytes`);
    },
  });
  // Only requests that carry a body go through the limit: it reads `c.req.raw`, which makes
  // @hono/node-server build a full Request object, a cost most requests (GETs) need not pay.
  return (c, next) =>
    carriesBody(c.req.header('content-length'), c.req.header('transfer-encoding')) ? limit(c, next) : next();
}

/** Whether a request comes with a body: a length other than 0, or a chunked one. */
export const carriesBody = (
  contentLength: string | undefined,
  transferEncoding: string | undefined,
): boolean => (contentLength !== undefined && contentLength !== '0') || transferEncoding !== undefined;
