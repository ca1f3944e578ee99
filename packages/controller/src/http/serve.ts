import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { LaneListener } from './fast-lane.ts';

export interface RunningServer {
  /** `http://host:port`, with the port the OS picked when asked for 0. */
  url: string;
  port: number;
  /**
   * Stops accepting connections, lets requests in flight finish (up to `graceMs`), then closes
   * whatever keep-alive connections remain.
   */
  close(graceMs?: number): Promise<void>;
}

type FetchHandler = (request: Request, env: unknown) => Response | Promise<Response>;

/**
 * Serves a fetch handler (a Hono app's `fetch`) with @hono/node-server, behind `lane` when given (the
 * fast lane of a few hot reads, src/http/fast-lane.ts, which hands everything else to the handler).
 */
export function serveHttp(
  fetch: FetchHandler,
  options: { port: number; host: string },
  lane?: LaneListener,
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const fullStack = getRequestListener(fetch, { hostname: options.host });
    const server = createServer(lane === undefined ? fullStack : (req, res) => lane(req, res, fullStack));
    server.listen(options.port, options.host);
    server.on('clientError', answerClientError);
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve({
        url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`,
        port,
        close: (graceMs = 5000) =>
          new Promise<void>((done) => {
            const force = setTimeout(() => server.closeAllConnections(), graceMs);
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}

/**
 * What Node's HTTP parser refuses before any handler runs gets the API's envelope too, not Node's
 * bare status line: headers over Node's 16 KB limit (431), a request that took too long to send
 * (408), anything unparsable (400). The connection is closed after the answer.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [
          431,
          'Request Header Fields Too Large',
          'headers_too_large',
          'request headers are larger than 16 KB; send fewer or smaller headers (a cookie or token too large?)',
        ]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'bad_request', 'the request took too long to arrive']
        : [400, 'Bad Request', 'bad_request', 'malformed HTTP request'];
  const requestId = randomUUID();
  const body = JSON.stringify({ error: { code, message, requestId } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}
