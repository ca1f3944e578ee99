import type { Logger } from 'pino';

/**
 * Node prints its process warnings (deprecations, experimental features, too many listeners) as raw
 * lines on stderr, among the agent's JSON log lines where a log shipper cannot parse them. They go to
 * the log instead, at warn, with Node's code. One is logged at debug: DEP0123, which grpc-js causes
 * on every TLS connection to a controller named by its IP address (it gives Node's TLS the IP as
 * server name, grpc/grpc-node#1919) and which nothing in the agent's settings can avoid.
 */
export function logProcessWarnings(log: Logger): void {
  // Node's own printer is a 'warning' listener, added at start-up unless warnings are turned off.
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    const fields = { code: warning.code, warning: warning.name };
    if (warning.code === 'DEP0123') log.debug(fields, warning.message);
    else log.warn(fields, warning.message);
  });
}
