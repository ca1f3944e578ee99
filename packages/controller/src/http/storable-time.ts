// A time a client names in a query reaches PostgreSQL as an ISO string. RFC 3339 and JavaScript both
// accept times PostgreSQL refuses ("0000-01-01T00:00:00Z", an offset past 9999, a 12-digit unix time:
// `+033658-…`); unchecked, those ended as a 500. Years 0001 to 9999 in UTC are what both sides write.

const EARLIEST_MS = Date.parse('0001-01-01T00:00:00Z');
const LATEST_MS = Date.parse('9999-12-31T23:59:59.999Z');

export const STORABLE_TIME_MESSAGE = 'must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z (UTC)';

/** Whether `ms` (since the unix epoch) is a time the API accepts in a query: years 0001 to 9999, UTC. */
export function isStorableTime(ms: number): boolean {
  return ms >= EARLIEST_MS && ms <= LATEST_MS;
}
