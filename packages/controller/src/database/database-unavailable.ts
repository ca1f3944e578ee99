// Which database failures are no bug and no client mistake but "try again": the database unreachable
// or overloaded right now, or a transaction the server undid because it met a concurrent one. The HTTP
// layer answers them 503 with Retry-After (the request may be retried as it was) and gRPC UNAVAILABLE,
// and both log them without calling them unhandled. They ask this module; they know no SQLSTATE.

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

/**
 * SQLSTATEs of a transaction the server rolled back because it met a concurrent one: deadlock_detected
 * (lock orders are kept the same everywhere, so a bug, but the request itself may be retried) and
 * serialization_failure.
 */
const CONFLICT_SQLSTATES: ReadonlySet<string> = new Set(['40P01', '40001']);

export function isDatabaseConflict(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && CONFLICT_SQLSTATES.has(code);
}
