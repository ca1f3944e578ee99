import { isIP } from 'node:net';

/** Where an HTTP endpoint listens. */
export interface ListenAddress {
  host: string;
  /** 0: any free port. */
  port: number;
}

export interface MetricsConfig {
  /** Sampling period until the controller sets one (Welcome.metrics_interval_ms), ms. */
  intervalMs: number;
  /** Samples kept while disconnected: at most this old behind the newest (ms of slot time)… */
  bufferMaxAgeMs: number;
  /** …and at most this many (host and VM samples alike). */
  bufferMaxSamples: number;
  /** Where the agent's own /metrics listens; undefined: no endpoint. */
  listen?: ListenAddress;
  /**
   * The address is the default, not one the operator chose: when it is taken (a second agent on this
   * machine) the agent serves no /metrics and says so, instead of refusing to start.
   */
  listenIsDefault?: boolean;
  /** A static bearer token /metrics requires; undefined: none. */
  token?: string;
}

/** The command's default /metrics address: loopback, so a first start exposes nothing to the network. */
export const DEFAULT_METRICS_LISTEN: ListenAddress = { host: '127.0.0.1', port: 9480 };

/** Defaults for an agent embedded as a library: sampling on, no endpoint (1,000 agents share a process). */
export const DEFAULT_METRICS_CONFIG: MetricsConfig = {
  intervalMs: 10_000,
  bufferMaxAgeMs: 30 * 60_000,
  bufferMaxSamples: 100_000,
};

/** Parses `off`, `host:port`, `[v6]:port` or `:port` (all interfaces); a problem text when it is none. */
export function parseListenAddress(text: string): ListenAddress | 'off' | string {
  const t = text.trim();
  if (t.toLowerCase() === 'off') return 'off';
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]*)):(\d{1,5})$/.exec(t);
  if (match === null)
    return 'must be host:port (e.g. 127.0.0.1:9480, [::1]:9480, :9480 for every address) or off';
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (match[1] !== undefined && isIP(host) !== 6) return `${host} is not an IPv6 address`;
  if (port > 65535) return 'the port must be 0-65535';
  return { host: host === '' ? '::' : host, port };
}
