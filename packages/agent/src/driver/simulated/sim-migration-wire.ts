import type { Socket } from 'node:net';
import { Vm } from '@cockpit/proto';

// How one simulated host reaches another for a live migration, as libvirt's peer-to-peer migration has
// the source's libvirtd talk to the destination's: the destination's agent listens on a small TCP
// endpoint and advertises it as its migration URI. The wire is newline-delimited JSON, one message a
// line: plenty for a simulator on loopback, readable in a packet capture, no schema compiler. The VM
// travels as the agent protocol's own Vm JSON (@cockpit/proto), the only record defined elsewhere.

/** The scheme of a simulated host's migration URI. */
export const SIM_MIGRATION_SCHEME = 'sim+tcp';

/** Source → destination, in the order a migration sends them (post_copy and abort only when asked). */
export type SourceMessage =
  /** Begin: the destination checks it can take the VM and starts the incoming domain, paused. */
  | { type: 'prepare'; hostUuid: string; vm: unknown }
  /** Force-complete: the VM runs on the destination from now on while the rest of its memory follows. */
  | { type: 'post_copy' }
  /** The last pass arrived: the destination runs the VM (defined there when `persistent`). */
  | { type: 'finish'; persistent: boolean }
  /** Cancelled: the destination drops the incoming domain. */
  | { type: 'abort' };

/** Destination → source: one answer to each prepare, finish and abort. */
export type DestinationMessage =
  | { type: 'prepared' }
  /** The destination cannot take the VM: a DriverError's code and words. */
  | { type: 'refused'; code: string; message: string }
  | { type: 'finished' }
  | { type: 'aborted' };

export const vmToWire = (vm: Vm): unknown => Vm.toJSON(vm);
export const vmFromWire = (json: unknown): Vm => Vm.fromJSON(json);

/** Where a simulated host listens (`sim+tcp://host:port`, port 0: any free one). */
export interface SimListenAddress {
  host: string;
  port: number;
}

/** A simulated host's advertised migration URI: `sim+tcp://host:port/<host-uuid>`. */
export interface SimMigrationTarget extends SimListenAddress {
  hostUuid: string;
}

const URI = /^sim\+tcp:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})(?:\/([0-9a-f-]*))?$/;

/** Parses a simulated migration URI; a string says what is wrong with it. */
export function parseSimMigrationUri(uri: string): SimMigrationTarget | string {
  const m = URI.exec(uri);
  const port = Number(m?.[2]);
  if (m === null || port > 65_535) {
    return `must be ${SIM_MIGRATION_SCHEME}://<address>:<port> (port 0: any free port), or empty`;
  }
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port, hostUuid: m[3] ?? '' };
}

export function simMigrationUri(target: SimMigrationTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${SIM_MIGRATION_SCHEME}://${host}:${target.port}/${target.hostUuid}`;
}

/** The connection ended before the awaited message. */
export class ConnectionLost extends Error {
  override readonly name = 'ConnectionLost';
}

/**
 * One end of a migration connection: sends `Out` messages, receives `In` messages in order. A line that
 * is not a message ends the connection (the peer is not a simulated host).
 */
export class LineChannel<Out extends { type: string }, In extends { type: string }> {
  /** Resolves once the connection is gone, whoever ended it. */
  readonly closed: Promise<void>;
  private readonly queue: In[] = [];
  private readonly waiting: Array<{ resolve: (msg: In) => void; reject: (err: Error) => void }> = [];
  private buffer = '';
  private ended = false;
  private silent = false;

  constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => this.read(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.ended = true;
        for (const w of this.waiting.splice(0))
          w.reject(new ConnectionLost('the peer closed the connection'));
        resolve();
      });
    });
  }

  send(message: Out): void {
    if (!this.ended) this.socket.write(`${JSON.stringify(message)}\n`);
  }

  /**
   * The next message; rejects with ConnectionLost when the connection ends first, or after `timeoutMs`
   * without one, which also ends the connection (a peer alive but silent, as libvirt's keepalive sees it).
   */
  receive(timeoutMs?: number): Promise<In> {
    const next = this.queue.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.ended) return Promise.reject(new ConnectionLost('the connection is closed'));
    const message = new Promise<In>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (timeoutMs === undefined) return message;
    const timer = setTimeout(() => {
      this.silent = true;
      this.close();
    }, timeoutMs);
    return message.finally(() => clearTimeout(timer));
  }

  /** True once a receive timed out (and so ended the connection). */
  get timedOut(): boolean {
    return this.silent;
  }

  /** Ends the connection at once (the peer sees it close); what is not sent yet is dropped. */
  close(): void {
    this.socket.destroy();
  }

  /** Ends the connection once what was sent has left (a last answer reaches the peer). */
  end(): void {
    this.socket.end(() => this.socket.destroy());
  }

  private read(chunk: string): void {
    this.buffer += chunk;
    for (let at = this.buffer.indexOf('\n'); at >= 0; at = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 1);
      let message: In;
      try {
        message = JSON.parse(line) as In;
        if (typeof message?.type !== 'string') throw new Error('not a message');
      } catch {
        this.close();
        return;
      }
      const waiter = this.waiting.shift();
      if (waiter !== undefined) waiter.resolve(message);
      else this.queue.push(message);
    }
  }
}
