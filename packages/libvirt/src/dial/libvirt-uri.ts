import { existsSync } from 'node:fs';
import { LibvirtClientError } from '../errors.ts';

export type Transport = 'unix' | 'tcp' | 'tls';

/** An ordinary libvirt URI, taken apart: where to dial and what name to open on the daemon. */
export interface ParsedUri {
  /** Hypervisor driver, e.g. `qemu`, `test`. */
  driver: string;
  transport: Transport;
  /** For unix: the socket path. */
  socketPath: string | null;
  host: string | null;
  port: number | null;
  /** The name sent in CONNECT_OPEN: the URI without transport, host and client-only parameters. */
  name: string;
  params: URLSearchParams;
}

export const DEFAULT_TCP_PORT = 16509;
export const DEFAULT_TLS_PORT = 16514;
export const SYSTEM_SOCKET = '/var/run/libvirt/libvirt-sock';

// Parameters the client consumes (see libvirt's remote driver); everything else reaches the daemon.
const CLIENT_PARAMS = new Set([
  'name',
  'socket',
  'no_verify',
  'no_tty',
  'pkipath',
  'keyfile',
  'mode',
  'command',
  'netcat',
  'proxy',
  'tls_priority',
  'sshauth',
  'known_hosts',
  'known_hosts_verify',
]);

/**
 * libvirt's own choice of socket (remote_mode): `legacy` is the monolithic libvirtd's
 * `libvirt-sock`; `direct` is the per-driver modular daemon's, e.g. `virtqemud-sock`; `auto` (the
 * default) takes libvirtd's when it exists, else the modular one when that exists.
 */
function defaultSocket(driver: string, path: string, mode: string | null): string {
  const dir =
    path === '/session'
      ? `${process.env.XDG_RUNTIME_DIR ?? `/run/user/${process.getuid?.() ?? 0}`}/libvirt`
      : '/var/run/libvirt';
  const legacy = `${dir}/libvirt-sock`;
  const direct = `${dir}/virt${driver}d-sock`;
  if (mode === 'legacy') return legacy;
  if (mode === 'direct') return direct;
  if (!existsSync(legacy) && existsSync(direct)) return direct;
  return legacy;
}

export function parseLibvirtUri(uri: string): ParsedUri {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (err) {
    throw new LibvirtClientError('INVALID_URI', `not a libvirt URI: ${uri}`, { cause: err });
  }
  const scheme = url.protocol.replace(/:$/, '');
  const [driver = '', explicit, ...rest] = scheme.split('+');
  if (driver === '' || rest.length > 0) throw new LibvirtClientError('INVALID_URI', `bad scheme in ${uri}`);
  const host = url.hostname === '' ? null : url.hostname.replace(/^\[(.*)\]$/, '$1');
  // libvirt's rule: no transport means unix without a host and TLS with one.
  const transport = (explicit ?? (host === null ? 'unix' : 'tls')) as Transport;
  if (transport !== 'unix' && transport !== 'tcp' && transport !== 'tls') {
    throw new LibvirtClientError('INVALID_URI', `unsupported transport '${explicit}' in ${uri}`);
  }
  if (transport !== 'unix' && host === null) {
    throw new LibvirtClientError('INVALID_URI', `${transport} transport needs a host in ${uri}`);
  }
  const params = url.searchParams;
  const kept = new URLSearchParams();
  for (const [k, v] of params) if (!CLIENT_PARAMS.has(k)) kept.append(k, v);
  const query = kept.toString();
  const name = params.get('name') ?? `${driver}://${url.pathname}${query === '' ? '' : `?${query}`}`;
  const defaultPort = transport === 'tls' ? DEFAULT_TLS_PORT : DEFAULT_TCP_PORT;
  return {
    driver,
    transport,
    socketPath:
      transport === 'unix'
        ? (params.get('socket') ?? defaultSocket(driver, url.pathname, params.get('mode')))
        : null,
    host,
    port: transport === 'unix' ? null : url.port === '' ? defaultPort : Number(url.port),
    name,
    params,
  };
}
