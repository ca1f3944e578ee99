import { existsSync } from 'node:fs';
import { LibvirtClientError } from '../errors.ts';

interface UriBase {
  /** Hypervisor driver, e.g. `qemu`, `test`. */
  driver: string;
  /** The name sent in CONNECT_OPEN: the URI without transport, host and client-only parameters. */
  name: string;
  params: URLSearchParams;
}

/** `qemu:///system`, `qemu+unix:///system?socket=…`: a local unix socket. */
export interface UnixUri extends UriBase {
  transport: 'unix';
  socketPath: string;
}

/** `qemu+tcp://host[:16509]/system`: plain TCP (libvirtd's `auth_tcp`). */
export interface TcpUri extends UriBase {
  transport: 'tcp';
  host: string;
  port: number;
}

/** `qemu+tls://host[:16514]/system`, `qemu://host/system`: TLS with client certificates. */
export interface TlsUri extends UriBase {
  transport: 'tls';
  host: string;
  port: number;
  /** `?pkipath=`: folder of cacert.pem, clientcert.pem, clientkey.pem; null = libvirt's defaults. */
  pkiPath: string | null;
  /** `?no_verify=1`: skip verifying the server's certificate. */
  noVerify: boolean;
}

/** An ordinary libvirt URI, taken apart: where to dial (by transport) and what name to open. */
export type ParsedUri = UnixUri | TcpUri | TlsUri;
export type Transport = ParsedUri['transport'];

export const DEFAULT_TCP_PORT = 16509;
export const DEFAULT_TLS_PORT = 16514;
/** Where the system daemons' sockets live. */
const SYSTEM_SOCKET_DIR = '/var/run/libvirt';
/** The monolithic libvirtd's system socket (`qemu:///system` unless only a modular daemon runs). */
export const SYSTEM_SOCKET = `${SYSTEM_SOCKET_DIR}/libvirt-sock`;

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
      : SYSTEM_SOCKET_DIR;
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
  const transport = explicit ?? (host === null ? 'unix' : 'tls');
  const params = url.searchParams;
  const kept = new URLSearchParams();
  for (const [k, v] of params) if (!CLIENT_PARAMS.has(k)) kept.append(k, v);
  const query = kept.toString();
  const base = {
    driver,
    name: params.get('name') ?? `${driver}://${url.pathname}${query === '' ? '' : `?${query}`}`,
    params,
  };
  if (transport === 'unix') {
    const socketPath = params.get('socket') ?? defaultSocket(driver, url.pathname, params.get('mode'));
    return { ...base, transport, socketPath };
  }
  if (transport !== 'tcp' && transport !== 'tls') {
    throw new LibvirtClientError('INVALID_URI', `unsupported transport '${explicit}' in ${uri}`);
  }
  if (host === null)
    throw new LibvirtClientError('INVALID_URI', `${transport} transport needs a host in ${uri}`);
  const port = (fallback: number) => (url.port === '' ? fallback : Number(url.port));
  if (transport === 'tcp') return { ...base, transport, host, port: port(DEFAULT_TCP_PORT) };
  return {
    ...base,
    transport,
    host,
    port: port(DEFAULT_TLS_PORT),
    pkiPath: params.get('pkipath'),
    noVerify: params.get('no_verify') === '1',
  };
}
