import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { LibvirtClientError } from '../errors.ts';
import type { ParsedUri } from './libvirt-uri.ts';

/** Client certificate material for `+tls` URIs; PEM strings/buffers, or read from libvirt's pki paths. */
export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Skip server certificate verification (libvirt's `no_verify=1`). */
  noVerify?: boolean;
}

export interface DialOptions {
  tls?: TlsOptions;
  /** Give up dialing after this many ms (default 10 s). */
  dialTimeoutMs?: number;
  signal?: AbortSignal;
}

function pkiDefaults(pkipath: string | null): { ca: string; cert: string; key: string } {
  if (pkipath !== null) {
    return {
      ca: `${pkipath}/cacert.pem`,
      cert: `${pkipath}/clientcert.pem`,
      key: `${pkipath}/clientkey.pem`,
    };
  }
  // libvirt's system locations (libvirt's own client uses ~/.pki/libvirt for non-root users).
  if (process.getuid?.() === 0) {
    return {
      ca: '/etc/pki/CA/cacert.pem',
      cert: '/etc/pki/libvirt/clientcert.pem',
      key: '/etc/pki/libvirt/private/clientkey.pem',
    };
  }
  const home = `${process.env.HOME ?? ''}/.pki/libvirt`;
  return { ca: `${home}/cacert.pem`, cert: `${home}/clientcert.pem`, key: `${home}/clientkey.pem` };
}

function readPki(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new LibvirtClientError('DIAL', `cannot read TLS file ${path}`, { cause: err });
  }
}

/** Opens the byte stream a parsed libvirt URI asks for; resolves once it is connected (and TLS is up). */
export function dial(uri: ParsedUri, opts: DialOptions = {}): Promise<Duplex> {
  const timeoutMs = opts.dialTimeoutMs ?? 10_000;
  return new Promise<Duplex>((resolve, reject) => {
    let sock: Socket;
    let readyEvent = 'connect';
    const where = uri.transport === 'unix' ? uri.socketPath : `${uri.host}:${uri.port}`;
    try {
      if (uri.transport === 'unix') {
        sock = netConnect({ path: uri.socketPath ?? '' });
      } else if (uri.transport === 'tcp') {
        sock = netConnect({ host: uri.host ?? '', port: uri.port ?? 0 });
      } else {
        const def = pkiDefaults(uri.params.get('pkipath'));
        const t = opts.tls ?? {};
        const noVerify = t.noVerify ?? uri.params.get('no_verify') === '1';
        const host = uri.host ?? '';
        sock = tlsConnect({
          host,
          port: uri.port ?? 0,
          ca: t.ca ?? readPki(def.ca),
          cert: t.cert ?? readPki(def.cert),
          key: t.key ?? readPki(def.key),
          rejectUnauthorized: !noVerify,
          ...(isIP(host) === 0 ? { servername: host } : {}),
        });
        readyEvent = 'secureConnect';
      }
    } catch (err) {
      reject(
        err instanceof LibvirtClientError
          ? err
          : new LibvirtClientError('DIAL', `cannot dial ${where}`, { cause: err }),
      );
      return;
    }
    const fail = (err: Error, code: 'DIAL' | 'ABORTED' = 'DIAL') => {
      cleanup();
      sock.destroy();
      reject(new LibvirtClientError(code, `cannot connect to ${where}: ${err.message}`, { cause: err }));
    };
    const onError = (err: Error) => fail(err);
    const onAbort = () => fail(new Error('aborted'), 'ABORTED');
    const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    const ready = () => {
      cleanup();
      sock.setNoDelay(true);
      resolve(sock);
    };
    // After the TLS handshake libvirtd checks our certificate and confirms with a single byte (1),
    // or hangs up. Consume it before any packet framing starts.
    const onConfirm = (chunk: Buffer) => {
      sock.off('data', onConfirm);
      sock.pause();
      if (chunk[0] !== 1) {
        fail(new Error(`daemon refused the TLS session (confirmation byte ${chunk[0]})`));
        return;
      }
      if (chunk.length > 1) sock.unshift(chunk.subarray(1));
      ready();
    };
    const onReady = () => {
      if (uri.transport !== 'tls') {
        ready();
        return;
      }
      sock.once('end', onEnd);
      sock.on('data', onConfirm);
    };
    const onEnd = () => fail(new Error('daemon closed the TLS session (client certificate refused?)'));
    const cleanup = () => {
      clearTimeout(timer);
      sock.off('error', onError);
      sock.off(readyEvent, onReady);
      sock.off('end', onEnd);
      sock.off('data', onConfirm);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    if (opts.signal?.aborted) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('error', onError);
    sock.once(readyEvent, onReady);
  });
}
