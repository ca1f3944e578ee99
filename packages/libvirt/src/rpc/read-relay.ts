import { connect, type NetConnectOpts, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Where a socket made with net's `onread` option sends what it reads (see ReadRelay). */
export const READ_RELAY: unique symbol = Symbol('@cockpit/libvirt read relay');

/** A stream whose reads bypass the stream machinery ('data' events never fire). */
export type RelayedStream = Duplex & { [READ_RELAY]?: ReadRelay };

const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Reads of a net socket into one reused buffer (net's `onread` option), handed straight to the
 * connection's reader: no allocation and no Readable bookkeeping per read. A chunk is only valid
 * during the call that receives it; the packet decoder copies what it must keep.
 */
export class ReadRelay {
  readonly buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  private sink: ((chunk: Buffer, transient: boolean) => void) | null = null;
  private early: Buffer[] = [];

  /** The `onread.callback` of net.connect. */
  readonly callback = (nread: number, buf: Buffer): boolean => {
    const chunk = buf.subarray(0, nread);
    if (this.sink !== null) this.sink(chunk, true);
    else this.early.push(Buffer.from(chunk));
    // Keep reading: flow control is the daemon's (it answers what we ask).
    return true;
  };

  /** Starts delivering to `sink`, first whatever arrived before (kept as copies). */
  attach(sink: (chunk: Buffer, transient: boolean) => void): void {
    this.sink = sink;
    for (const chunk of this.early.splice(0)) sink(chunk, false);
  }
}

/** net.connect with its reads routed through a relay that the RPC client picks up. */
export function connectRelayed(options: NetConnectOpts): Socket {
  const relay = new ReadRelay();
  const sock: RelayedStream & Socket = connect({
    ...options,
    onread: { buffer: relay.buffer, callback: relay.callback },
  });
  sock[READ_RELAY] = relay;
  return sock;
}
