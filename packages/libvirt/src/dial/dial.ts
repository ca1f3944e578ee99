import type { Duplex } from 'node:stream';
import { LibvirtClientError } from '../errors.ts';
import { dialTcp } from './dial-tcp.ts';
import { dialTls, type TlsOptions } from './dial-tls.ts';
import { dialUnix } from './dial-unix.ts';
import type { ParsedUri } from './libvirt-uri.ts';

export const DEFAULT_DIAL_TIMEOUT_MS = 10_000;

export interface DialOptions {
  tls?: TlsOptions;
  /** Give up dialing after this many ms (default 10 s). */
  dialTimeoutMs?: number;
  signal?: AbortSignal;
}

function where(uri: ParsedUri): string {
  return uri.transport === 'unix' ? uri.socketPath : `${uri.host}:${uri.port}`;
}

/**
 * Opens the byte stream a parsed libvirt URI asks for with the transport's dialer; resolves once it
 * is connected (and TLS is up). Fails with DIAL (or ABORTED when `signal` fires).
 */
export async function dial(uri: ParsedUri, opts: DialOptions = {}): Promise<Duplex> {
  const timeoutMs = opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal === undefined ? deadline : AbortSignal.any([opts.signal, deadline]);
  try {
    switch (uri.transport) {
      case 'unix':
        return await dialUnix(uri, signal);
      case 'tcp':
        return await dialTcp(uri, signal);
      case 'tls':
        return await dialTls(uri, signal, opts.tls);
    }
  } catch (err) {
    if (err instanceof LibvirtClientError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    if (opts.signal?.aborted) {
      throw new LibvirtClientError('ABORTED', `dialing ${where(uri)} aborted`, { cause: opts.signal.reason });
    }
    if (deadline.aborted) {
      throw new LibvirtClientError(
        'DIAL',
        `cannot connect to ${where(uri)}: no connection within ${timeoutMs} ms`,
      );
    }
    throw new LibvirtClientError('DIAL', `cannot connect to ${where(uri)}: ${reason}`, { cause: err });
  }
}
