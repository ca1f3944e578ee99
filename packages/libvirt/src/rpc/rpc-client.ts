import type { Duplex } from 'node:stream';
import { LibvirtClientError, LibvirtError } from '../errors.ts';
import {
  KEEPALIVE_PROC_PING,
  KEEPALIVE_PROC_PONG,
  KEEPALIVE_PROGRAM,
  KEEPALIVE_PROTOCOL_VERSION,
} from '../protocol/keepalive.gen.ts';
import {
  VIR_NET_CALL,
  VIR_NET_ERROR,
  VIR_NET_MESSAGE,
  VIR_NET_OK,
  VIR_NET_REPLY,
} from '../protocol/net.gen.ts';
import { REMOTE_PROCEDURE_NAMES } from '../protocol/remote-procedures.gen.ts';
import { decRemoteError, REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION } from '../protocol/remote-types.gen.ts';
import { XdrReader } from '../xdr/index.ts';
import { Keepalive, type KeepaliveOptions } from './keepalive.ts';
import { type Logger, silentLogger } from './logger.ts';
import { encodePacket, MAX_PACKET, type Packet, PacketDecoder } from './packet.ts';
import type { CallOptions, Decoder, Encoder, RemoteCaller } from './remote-caller.ts';

export interface RpcClientOptions {
  keepalive?: Partial<KeepaliveOptions>;
  /** Default deadline of every call, ms (default 30 s). 0 disables. */
  callTimeoutMs?: number;
  /** Largest packet accepted or sent (default and maximum: libvirt's 32 MiB). */
  maxPacketBytes?: number;
  logger?: Logger;
}

interface Pending {
  program: number;
  procedure: number;
  resolve(p: Packet): void;
  reject(e: Error): void;
}

/** A remote-program MESSAGE (event) packet. */
export type MessageHandler = (procedure: number, body: Buffer) => void;

/** `DOMAIN_GET_INFO` for remote-program procedures, `program 0x…/proc n` otherwise. */
function procName(program: number, procedure: number): string {
  const name = program === REMOTE_PROGRAM ? REMOTE_PROCEDURE_NAMES[procedure] : undefined;
  return name ?? `program 0x${program.toString(16)} procedure ${procedure}`;
}

/** How many abandoned serials (timed out / aborted) we remember, so their late replies log quietly. */
const ABANDONED_MAX = 1024;

/**
 * One connection's RPC machinery: a single reader loop splitting the stream into packets, writes in
 * order, replies routed to pending calls by serial, MESSAGE packets to the event handler, keepalive.
 * When the stream ends, every pending call rejects at once with an INTERRUPTED error.
 */
export class RpcClient implements RemoteCaller {
  private serial = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly abandoned = new Set<number>();
  private readonly decoder: PacketDecoder;
  private readonly keepalive: Keepalive;
  private readonly logger: Logger;
  private readonly callTimeoutMs: number;
  private readonly maxPacket: number;
  private closeReason: Error | null = null;
  private readonly closeListeners: ((reason: Error) => void)[] = [];
  private messageHandler: MessageHandler | null = null;
  private writeQueue: Buffer[] = [];
  private draining = false;
  readonly closed: Promise<Error>;

  constructor(
    private readonly stream: Duplex,
    opts: RpcClientOptions = {},
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    this.maxPacket = Math.min(opts.maxPacketBytes ?? MAX_PACKET, MAX_PACKET);
    this.decoder = new PacketDecoder(this.maxPacket);
    this.keepalive = new Keepalive(
      { intervalMs: opts.keepalive?.intervalMs ?? 5000, count: opts.keepalive?.count ?? 5 },
      () => this.sendKeepalive(KEEPALIVE_PROC_PING),
      (silentMs) =>
        this.fail(
          new LibvirtClientError(
            'KEEPALIVE_TIMEOUT',
            `peer sent nothing for ${silentMs} ms despite keepalive pings`,
          ),
        ),
    );
    this.closed = new Promise((resolve) => this.closeListeners.push(resolve));
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('drain', () => this.flush());
    stream.on('error', (err) =>
      this.fail(new LibvirtClientError('INTERRUPTED', `transport error: ${err.message}`, { cause: err })),
    );
    stream.on('close', () => this.onStreamClosed());
    stream.on('end', () => this.onStreamClosed());
    // The dialer may have paused the stream (TLS confirmation byte); start the reader loop.
    stream.resume();
    this.keepalive.start();
  }

  get isClosed(): boolean {
    return this.closeReason !== null;
  }

  /** Why the connection closed, once it has. */
  get reason(): Error | null {
    return this.closeReason;
  }

  get pendingCalls(): number {
    return this.pending.size;
  }

  onMessage(handler: MessageHandler | null): void {
    this.messageHandler = handler;
  }

  onClose(listener: (reason: Error) => void): void {
    if (this.closeReason !== null) listener(this.closeReason);
    else this.closeListeners.push(listener);
  }

  callRemote<A, R>(
    proc: number,
    args: A,
    enc: Encoder<A> | null,
    dec: Decoder<R> | null,
    opts?: CallOptions,
  ): Promise<R> {
    return this.call(REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, proc, args, enc, dec, opts);
  }

  async call<A, R>(
    program: number,
    version: number,
    procedure: number,
    args: A,
    enc: Encoder<A> | null,
    dec: Decoder<R> | null,
    opts: CallOptions = {},
  ): Promise<R> {
    let packet: Packet;
    try {
      packet = await this.roundTrip(program, version, procedure, (w) => enc?.(w, args), opts);
    } catch (err) {
      // The error was made in the reader loop or a timer; re-capture the stack here, where V8's
      // async stack trace reaches back to the caller's code.
      if (err instanceof Error) Error.captureStackTrace(err);
      throw err;
    }
    const r = new XdrReader(packet.body);
    try {
      const v = dec === null ? (undefined as R) : dec(r);
      r.end();
      return v;
    } catch (err) {
      throw new LibvirtClientError(
        'PROTOCOL',
        `cannot decode reply to ${procName(program, procedure)}: ${String(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  private roundTrip(
    program: number,
    version: number,
    procedure: number,
    body: Parameters<typeof encodePacket>[1],
    opts: CallOptions,
  ): Promise<Packet> {
    if (this.closeReason !== null) {
      return Promise.reject(
        new LibvirtClientError('CLOSED', 'connection is closed', { cause: this.closeReason }),
      );
    }
    const { signal } = opts;
    if (signal?.aborted) {
      return Promise.reject(
        new LibvirtClientError('ABORTED', 'call aborted before it was sent', { cause: signal.reason }),
      );
    }
    // Serial 0 is what keepalive and event messages carry; never hand it to a call.
    this.serial = (this.serial + 1) >>> 0 || 1;
    const serial = this.serial;
    const buf = encodePacket(
      { program, version, procedure, type: VIR_NET_CALL, serial, status: VIR_NET_OK },
      body,
      this.maxPacket,
    );
    const timeoutMs = opts.timeoutMs ?? this.callTimeoutMs;
    return new Promise<Packet>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const onAbort = () => {
        this.abandon(serial);
        settle();
        reject(
          new LibvirtClientError('ABORTED', `${procName(program, procedure)} aborted`, {
            cause: signal?.reason,
          }),
        );
      };
      const settle = () => {
        if (timer !== null) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(serial);
      };
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.abandon(serial);
          settle();
          reject(
            new LibvirtClientError(
              'TIMEOUT',
              `${procName(program, procedure)} got no reply within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(serial, {
        program,
        procedure,
        resolve: (p) => {
          settle();
          resolve(p);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      });
      this.write(buf);
    });
  }

  private abandon(serial: number): void {
    this.abandoned.add(serial);
    if (this.abandoned.size > ABANDONED_MAX) {
      const oldest = this.abandoned.values().next().value;
      if (oldest !== undefined) this.abandoned.delete(oldest);
    }
  }

  /** Writes keep their order; when the kernel buffer is full we queue until `drain`. */
  private write(buf: Buffer): void {
    if (this.closeReason !== null) return;
    if (this.draining) {
      this.writeQueue.push(buf);
      return;
    }
    if (!this.stream.write(buf)) this.draining = true;
  }

  private flush(): void {
    this.draining = false;
    while (this.writeQueue.length > 0 && !this.draining) {
      const next = this.writeQueue.shift();
      if (next !== undefined && !this.stream.write(next)) this.draining = true;
    }
  }

  private sendKeepalive(proc: number): void {
    this.write(
      encodePacket({
        program: KEEPALIVE_PROGRAM,
        version: KEEPALIVE_PROTOCOL_VERSION,
        procedure: proc,
        type: VIR_NET_MESSAGE,
        serial: 0,
        status: VIR_NET_OK,
      }),
    );
  }

  private onData(chunk: Buffer): void {
    if (this.closeReason !== null) return;
    this.keepalive.received();
    let packets: Packet[];
    try {
      packets = this.decoder.push(chunk);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    for (const p of packets) this.route(p);
  }

  private route(p: Packet): void {
    const h = p.header;
    if (h.program === KEEPALIVE_PROGRAM) {
      if (h.procedure === KEEPALIVE_PROC_PING) this.sendKeepalive(KEEPALIVE_PROC_PONG);
      return;
    }
    if (h.type === VIR_NET_MESSAGE && h.program === REMOTE_PROGRAM) {
      if (this.messageHandler === null)
        this.logger.debug('event without handler', { procedure: h.procedure });
      else this.messageHandler(h.procedure, p.body);
      return;
    }
    if (h.type !== VIR_NET_REPLY) {
      this.logger.warn('ignoring packet of unexpected type', { type: h.type, procedure: h.procedure });
      return;
    }
    const call = this.pending.get(h.serial);
    if (call === undefined) {
      if (this.abandoned.delete(h.serial))
        this.logger.debug('late reply to abandoned call', { serial: h.serial });
      else
        this.logger.warn('ignoring reply with unknown serial', { serial: h.serial, procedure: h.procedure });
      return;
    }
    if (h.program !== call.program || h.procedure !== call.procedure) {
      call.reject(
        new LibvirtClientError(
          'PROTOCOL',
          `reply for serial ${h.serial} names ${procName(h.program, h.procedure)}, expected ${procName(call.program, call.procedure)}`,
        ),
      );
      return;
    }
    if (h.status === VIR_NET_ERROR) {
      try {
        const r = new XdrReader(p.body);
        call.reject(new LibvirtError(decRemoteError(r), call.procedure));
      } catch (err) {
        call.reject(
          new LibvirtClientError('PROTOCOL', `cannot decode error reply: ${String(err)}`, { cause: err }),
        );
      }
      return;
    }
    call.resolve(p);
  }

  private onStreamClosed(): void {
    if (this.closeReason !== null) return;
    if (this.decoder.pendingBytes > 0) {
      this.fail(
        new LibvirtClientError(
          'PROTOCOL',
          `connection closed inside a packet (${this.decoder.pendingBytes} bytes of it received)`,
        ),
      );
    } else {
      this.fail(new LibvirtClientError('INTERRUPTED', 'connection closed by peer'));
    }
  }

  /** Closes the connection for `reason` and rejects every pending call at once. */
  fail(reason: Error): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    this.keepalive.stop();
    this.writeQueue = [];
    this.stream.destroy();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const c of calls) {
      c.reject(
        reason instanceof LibvirtClientError && reason.code === 'INTERRUPTED'
          ? reason
          : new LibvirtClientError('INTERRUPTED', `connection closed: ${reason.message}`, { cause: reason }),
      );
    }
    for (const l of this.closeListeners.splice(0)) l(reason);
  }

  /** Graceful local close: pending calls reject with INTERRUPTED. */
  close(): void {
    this.fail(new LibvirtClientError('INTERRUPTED', 'connection closed by client'));
  }
}
