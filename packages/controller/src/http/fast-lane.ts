import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Services } from '../create-services.ts';
import { carriesBody } from './body-limit.ts';
import { clientAddressOf } from './client-address.ts';
import { logRequest, requestIdFor } from './request-context.ts';

/**
 * A request as a fast route sees it: the raw query string (after `?`, not decoded) and its headers,
 * read as the full stack reads them (repeated fields joined with ", ", as a Fetch `Headers` does).
 */
export interface FastRequest {
  query: string;
  header(lowerCaseName: string): string | undefined;
}

/** The success a fast route answers with, exactly as its route in the full stack would send it. */
export interface FastAnswer {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: Uint8Array;
  /** The signed-in user, for the request's log line. */
  user: string;
}

/**
 * The happy path of one hot GET route, answered straight on node:http. `undefined` (or a throw) hands
 * the request to the full stack, which answers it as it always does, errors included: a fast route
 * only ever sends what its full route would have sent for the same request. Each is defined in its
 * route's file, beside the route, and tested against it (same status, headers and bytes).
 */
export interface FastRoute {
  /** The exact path (no pattern); the route's pattern in the request-duration metric is the same. */
  path: string;
  answer(request: FastRequest, services: Services): Promise<FastAnswer | undefined>;
}

/** A node:http listener in front of the full stack's: how many requests each lane took (for tests). */
export type LaneListener = ((
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  fullStack: RequestListener,
) => void) & { readonly counts: { fast: number; handedOver: number } };

/**
 * The fast lane: GETs of a few hot read routes (a dashboard polling the VM list) answered without
 * the framework. With 100 clients back to back, Hono's context, middleware chain, Web `Request`
 * view and validator cost ~70 µs of the controller's ~100 µs CPU per cached page (the rest is
 * the socket write), and p99 went to 30+ ms; a bare node:http server sends the same page in ~27 µs.
 * Everything the full stack does for a success is done here too, with the same functions: request
 * id, client address, bearer token and role, query validation with the route's own schema, the
 * route's service call and encoding, the log line and the duration metric. GETs only: nothing here
 * is audited. Anything else (another path or method, a body, a query the route's parser does not
 * take as plain, any refusal or failure) goes to the full stack untouched.
 */
export function fastLane(services: Services, routes: readonly FastRoute[]): LaneListener {
  const byPath = new Map(routes.map((r) => [r.path, r]));
  const counts = { fast: 0, handedOver: 0 };
  const listener = (incoming: IncomingMessage, outgoing: ServerResponse, fullStack: RequestListener) => {
    const url = incoming.url ?? '';
    const mark = url.indexOf('?');
    const path = mark === -1 ? url : url.slice(0, mark);
    const route = byPath.get(path);
    if (
      route === undefined ||
      incoming.method !== 'GET' ||
      carriesBody(incoming.headers['content-length'], incoming.headers['transfer-encoding'])
    ) {
      fullStack(incoming, outgoing);
      return;
    }
    const started = performance.now();
    const header = (name: string) => rawHeader(incoming, name);
    const request: FastRequest = { query: mark === -1 ? '' : url.slice(mark + 1), header };
    const answer = route.answer(request, services).catch((err: unknown) => {
      services.log.debug({ err, path }, 'fast lane: the full stack answers');
      return undefined;
    });
    answer
      .then((answered) => {
        if (answered === undefined) {
          counts.handedOver++;
          fullStack(incoming, outgoing);
          return;
        }
        counts.fast++;
        const requestId = requestIdFor(header('x-request-id'));
        outgoing.writeHead(answered.status, {
          ...answered.headers,
          'content-length': String(answered.body.byteLength),
          'x-request-id': requestId,
        });
        outgoing.end(answered.body);
        const durationMs = performance.now() - started;
        services.requestDurations.observe('GET', route.path, answered.status, durationMs / 1000);
        logRequest(services.log, {
          requestId,
          method: 'GET',
          path,
          status: answered.status,
          durationMs: Math.round(durationMs * 10) / 10,
          user: answered.user,
          client: clientAddressOf(
            incoming.socket.remoteAddress,
            () => header('x-forwarded-for'),
            services.config.http.trustedProxies,
          ),
        });
      })
      .catch((err: unknown) => {
        // A bug of the lane's own: never an unhandled rejection, and the caller still gets an answer.
        services.log.error({ err, path }, 'fast lane failed');
        if (outgoing.headersSent) outgoing.destroy();
        else fullStack(incoming, outgoing);
      });
  };
  return Object.assign(listener, { counts });
}

/**
 * A header as a Fetch `Headers` (what Hono reads) gives it: every field of that name joined with
 * ", ". node's `headers` object keeps only the first of some repeated fields (User-Agent, Referer…).
 */
function rawHeader(incoming: IncomingMessage, lowerCaseName: string): string | undefined {
  const raw = incoming.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === lowerCaseName.length && name.toLowerCase() === lowerCaseName) {
      const v = raw[i + 1] as string;
      value = value === undefined ? v : `${value}, ${v}`;
    }
  }
  return value;
}

/**
 * A query string of `key=value` pairs whose keys are among `keys`, each once, and whose values need
 * no decoding (RFC 3986's unreserved characters: ids, numbers, state names, page cursors); undefined
 * for anything else, which the full stack parses instead.
 */
export function plainQuery(query: string, keys: ReadonlySet<string>): Record<string, string> | undefined {
  const values: Record<string, string> = {};
  if (query === '') return values;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq === -1) return undefined;
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (!keys.has(key) || Object.hasOwn(values, key) || !UNRESERVED.test(value)) return undefined;
    values[key] = value;
  }
  return values;
}

const UNRESERVED = /^[A-Za-z0-9._~-]*$/;
