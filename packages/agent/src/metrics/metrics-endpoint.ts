import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROMETHEUS_CONTENT_TYPE } from '@cockpit/proto';
import type { Logger } from 'pino';
import type { ListenAddress } from './metrics-config.ts';

export interface MetricsEndpointOptions {
  listen: ListenAddress;
  /** Requests must carry `Authorization: Bearer <token>` (undefined: no token needed). */
  token?: string;
  /** The exposition, built at each scrape. */
  render: () => string;
  log: Logger;
}

export interface MetricsEndpoint {
  /** `http://host:port/metrics` as bound (the port chosen when 0 was asked). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The /metrics endpoint could not listen (address in use, not an address of this machine, …). */
export class MetricsEndpointError extends Error {
  override readonly name = 'MetricsEndpointError';
  readonly code = 'metrics_listen_failed';
}
export const isMetricsEndpointError = (err: unknown): err is MetricsEndpointError =>
  err instanceof MetricsEndpointError;

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * The agent's own Prometheus endpoint on node:http: GET or HEAD /metrics, no other route but a pointer
 * at /. Like other exporters it needs no login; with a token configured, every request needs it as a
 * bearer (compared in constant time).
 */
export async function startMetricsEndpoint(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const expected = options.token === undefined ? undefined : digest(`Bearer ${options.token}`);
  const server = createServer((req, res) => handle(req, res));
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (expected !== undefined && !timingSafeEqual(digest(req.headers.authorization ?? ''), expected)) {
      reply(res, 401, 'a bearer token is required\n', { 'www-authenticate': 'Bearer realm="cockpit-agent"' });
      return;
    }
    if (path !== '/metrics' && path !== '/') {
      reply(res, 404, 'not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(res, 405, 'only GET and HEAD\n', { allow: 'GET, HEAD' });
      return;
    }
    if (path === '/') {
      reply(res, 200, 'cockpit-agent: Prometheus metrics at /metrics\n');
      return;
    }
    let body: string;
    try {
      body = options.render();
    } catch (err) {
      options.log.error({ err }, 'could not render /metrics');
      reply(res, 500, 'internal error\n');
      return;
    }
    res.writeHead(200, {
      'content-type': PROMETHEUS_CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      const { host, port } = options.listen;
      reject(
        new MetricsEndpointError(`cannot listen on ${hostPort(host, port)} for /metrics: ${err.message}`, {
          cause: err,
        }),
      );
    };
    server.once('error', failed);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  server.on('error', (err) => options.log.error({ err }, 'metrics endpoint error'));
  const { port } = server.address() as AddressInfo;
  const url = `http://${hostPort(options.listen.host, port)}/metrics`;
  options.log.info({ url, tokenRequired: options.token !== undefined }, 'serving Prometheus metrics');
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function reply(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(text);
}

const hostPort = (host: string, port: number) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
