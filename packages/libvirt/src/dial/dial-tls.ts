import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import { connect } from 'node:tls';
import { LibvirtClientError } from '../errors.ts';
import type { TlsUri } from './libvirt-uri.ts';
import { socketReady } from './socket-ready.ts';

/** Client certificate material for `+tls` URIs; PEM strings/buffers, or read from libvirt's pki paths. */
export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Skip server certificate verification (libvirt's `no_verify=1`). */
  noVerify?: boolean;
}

function pkiFiles(pkiPath: string | null): { ca: string; cert: string; key: string } {
  if (pkiPath !== null) {
    return {
      ca: `${pkiPath}/cacert.pem`,
      cert: `${pkiPath}/clientcert.pem`,
      key: `${pkiPath}/clientkey.pem`,
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

/**
 * After the TLS handshake libvirtd checks our certificate and confirms with a single byte (1), or
 * hangs up. Consumes it (handing back any bytes after it) before any packet framing starts.
 */
function daemonConfirmation(sock: Socket, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', fail);
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      cleanup();
      sock.pause();
      if (chunk[0] !== 1) {
        reject(new Error(`daemon refused the TLS session (confirmation byte ${chunk[0]})`));
        return;
      }
      if (chunk.length > 1) sock.unshift(chunk.subarray(1));
      resolve();
    };
    const onEnd = () => fail(new Error('daemon closed the TLS session (client certificate refused?)'));
    const onAbort = () => fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('error', fail);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A TLS session to `host:port` with client certificates, confirmed by the daemon. */
export async function dialTls(uri: TlsUri, signal: AbortSignal, tls: TlsOptions = {}): Promise<Socket> {
  const files = pkiFiles(uri.pkiPath);
  const sock = connect({
    host: uri.host,
    port: uri.port,
    ca: tls.ca ?? readPki(files.ca),
    cert: tls.cert ?? readPki(files.cert),
    key: tls.key ?? readPki(files.key),
    rejectUnauthorized: !(tls.noVerify ?? uri.noVerify),
    ...(isIP(uri.host) === 0 ? { servername: uri.host } : {}),
  });
  try {
    await socketReady(sock, 'secureConnect', signal);
    await daemonConfirmation(sock, signal);
  } catch (err) {
    sock.destroy();
    throw err;
  }
  sock.setNoDelay(true);
  return sock;
}
