import type { Socket } from 'node:net';
import { connectRelayed } from '../rpc/read-relay.ts';
import type { UnixUri } from './libvirt-uri.ts';
import { socketReady } from './socket-ready.ts';

/** A connected unix socket to the daemon's `socketPath`. */
export async function dialUnix(uri: UnixUri, signal: AbortSignal): Promise<Socket> {
  const sock = connectRelayed({ path: uri.socketPath });
  try {
    await socketReady(sock, 'connect', signal);
  } catch (err) {
    sock.destroy();
    throw err;
  }
  return sock;
}
