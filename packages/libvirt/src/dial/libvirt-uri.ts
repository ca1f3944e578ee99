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

function defaultSocket(path: string): string {
  if (path === '/session') {
    const runtime = process.env.XDG_RUNTIME_DIR ?? `/run/user/${process.getuid?.() ?? 0}`;
    return `${runtime}/libvirt/libvirt-sock`;
  }
  return SYSTEM_SOCKET;
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
    socketPath: transport === 'unix' ? (params.get('socket') ?? defaultSocket(url.pathname)) : null,
    host,
    port: transport === 'unix' ? null : url.port === '' ? defaultPort : Number(url.port),
    name,
    params,
  };
}
