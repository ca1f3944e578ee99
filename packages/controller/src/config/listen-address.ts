import { isIP } from 'node:net';

/** Where an extra HTTP endpoint listens. */
export interface ListenAddress {
  host: string;
  /** 0: any free port. */
  port: number;
}

/**
 * Parses `off`, `host:port`, `[v6]:port` or `:port` (all interfaces); a problem text when it is none.
 * The agent's COCKPIT_AGENT_METRICS_LISTEN reads the same way (packages/agent/src/metrics/metrics-config.ts).
 */
export function parseListenAddress(text: string): ListenAddress | 'off' | string {
  const t = text.trim();
  if (t.toLowerCase() === 'off') return 'off';
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]*)):(\d{1,5})$/.exec(t);
  if (match === null) return 'must be host:port (e.g. 127.0.0.1:9481, [::1]:9481, :9481 for every address)';
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (match[1] !== undefined && isIP(host) !== 6) return `${host} is not an IPv6 address`;
  if (port > 65535) return 'the port must be 0-65535';
  return { host: host === '' ? '::' : host, port };
}
