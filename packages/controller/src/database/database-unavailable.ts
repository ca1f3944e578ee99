// Which database failures mean "the database is unreachable or overloaded right now" rather than a
// bug: the HTTP layer answers them 503 with Retry-After (the request may be retried as it was), and
// logs them without calling them unhandled. The HTTP layer asks this module; it knows no SQLSTATE.

/** The client library's own codes for a connection that went away or never came. */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
]);

/**
 * SQLSTATEs of the server going away or refusing work for now: admin_shutdown, crash_shutdown,
 * cannot_connect_now (starting up), too_many_connections, query_canceled (our statement timeout on an
 * overloaded server), and class 08 (connection exception).
 */
const TRANSIENT_SQLSTATES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

export function isDatabaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return CONNECTION_CODES.has(code) || TRANSIENT_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code);
}
