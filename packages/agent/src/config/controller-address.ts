import { isIP } from 'node:net';

export interface ControllerAddress {
  host: string;
  port: number;
  /** The gRPC target: `host:port`, IPv6 in brackets. */
  target: string;
}

/** Parses `host:port` or `[v6]:port`; returns a problem text instead when it is not one. */
export function parseControllerAddress(text: string): ControllerAddress | string {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(text.trim());
  if (match === null) return 'must be host:port (e.g. controller.example:8443 or [::1]:8443)';
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (match[1] !== undefined && isIP(host) !== 6) return `${host} is not an IPv6 address`;
  if (port < 1 || port > 65535) return 'the port must be 1-65535';
  return { host, port, target: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** Loopback: plaintext to it never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || h.startsWith('::ffff:127.');
  return false;
}
