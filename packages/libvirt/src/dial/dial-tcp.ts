import type { Socket } from 'node:net';
import { connectRelayed } from '../rpc/read-relay.ts';
import type { TcpUri } from './libvirt-uri.ts';
import { socketReady } from './socket-ready.ts';

/** A connected TCP socket to `host:port` (libvirtd's listen_tcp, without TLS). */
export async function dialTcp(uri: TcpUri, signal: AbortSignal): Promise<Socket> {
  const sock = connectRelayed({ host: uri.host, port: uri.port });
  try {
    await socketReady(sock, 'connect', signal);
  } catch (err) {
    sock.destroy();
    throw err;
  }
  // Calls are whole packets written at once: never hold one back waiting for an ACK.
  sock.setNoDelay(true);
  return sock;
}
