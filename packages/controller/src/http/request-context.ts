import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Services } from '../create-services.ts';
import type { AppEnv } from './app-env.ts';
import { clientAddress } from './client-address.ts';

// A caller's request id is kept when it is short and plain, so it can be followed through their logs
// and ours; anything else (log injection, megabyte headers) is replaced.
const INCOMING_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * First on every request: its id (also the `X-Request-Id` response header), the services with a
 * logger that carries the id, the caller the services are handed, and one log line when it is done.
 */
export function requestContext(services: Services): MiddlewareHandler<AppEnv> {
  const withRequestLog = requestServices(services);
  return async (c, next) => {
    const requestId = requestIdFor(c.req.header('x-request-id'));
    c.set('requestId', requestId);
    c.set('services', withRequestLog(requestId));
    const client = clientAddress(c);
    c.set('caller', { clientAddress: client, audit: {} });
    const started = performance.now();
    await next();
    // On the response's headers directly: `c.header()` after the response exists rebuilds it, which
    // makes @hono/node-server give up its fast path for plain bodies.
    try {
      c.res.headers.set('X-Request-Id', requestId);
    } catch {
      // A handler returned a Response with immutable headers (e.g. a proxied fetch): it goes out as is.
    }
    logRequest(services.log, {
      requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      // c.get, not c.var: c.var copies every variable into a new object on each read.
      user: c.get('caller').principal?.username,
      client,
    });
  };
}

/** The id of a request: the caller's `X-Request-Id` when it is short and plain, else a new UUID. */
export const requestIdFor = (incoming: string | undefined): string =>
  incoming !== undefined && INCOMING_REQUEST_ID.test(incoming) ? incoming : randomUUID();

/** What the request line of the log says about a request, once it is answered. */
export interface RequestLine {
  requestId: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  user: string | undefined;
  client: string;
}

/** The one log line of each request: an error for a 5xx, debug for a health probe, info otherwise. */
export function logRequest(log: Services['log'], line: RequestLine): void {
  // Probes come every few seconds from every load balancer: their lines would drown the rest.
  const probe = PROBES.has(line.path) && line.status < 500;
  log[line.status >= 500 ? 'error' : probe ? 'debug' : 'info'](line, 'request');
}

const PROBES = new Set(['/healthz', '/readyz']);

/**
 * Per request, the services with a `log` that carries the request id. Handlers log through
 * `c.var.services.log`; the child logger is made on first use only: most requests log nothing but the
 * request line, and a child per request costs. The services are behind (the prototype), not copied:
 * spreading their many fields cost ~2 % of a cached list's CPU. A class made once per services object,
 * not `Object.create(services, { log: { get } })` per request: property descriptors cost ~1 µs each
 * time (1.8 % of a cached list request), a `new` of a class ~30 ns.
 */
export function requestServices(services: Services): (requestId: string) => Services {
  class RequestServices {
    readonly #requestId: string;
    #log: Services['log'] | undefined;
    constructor(requestId: string) {
      this.#requestId = requestId;
    }
    get log(): Services['log'] {
      this.#log ??= services.log.child({ requestId: this.#requestId });
      return this.#log;
    }
  }
  Object.setPrototypeOf(RequestServices.prototype, services);
  return (requestId) => new RequestServices(requestId) as unknown as Services;
}
