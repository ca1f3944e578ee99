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
  return (c, next) => {
    const length = c.req.header('content-length');
    const hasBody =
      (length !== undefined && length !== '0') || c.req.header('transfer-encoding') !== undefined;
    return hasBody ? limit(c, next) : next();
  };
}
