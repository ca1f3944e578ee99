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
import { decRemoteError, REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION } from '../protocol/remote-types.gen.ts';
import { isXdrError, XdrReader } from '../xdr/index.ts';
import { BusyPoll } from './busy-poll.ts';
import { CallTable, procName } from './call-table.ts';
import { DEFAULT_KEEPALIVE, Keepalive, type KeepaliveOptions } from './keepalive.ts';
import { type Logger, silentLogger } from './logger.ts';
import { OrderedWriter } from './ordered-writer.ts';
import { encodePacket, MAX_PACKET, type Packet, PacketDecoder } from './packet.ts';
import { READ_RELAY, type RelayedStream } from './read-relay.ts';
import type { CallOptions, Decoder, Encoder, RemoteCaller } from './remote-caller.ts';

/** Deadline of a call that names none (CallOptions.timeoutMs), ms. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

export interface RpcClientOptions {
  /** Default: libvirt's (5 s interval, 5 pings); interval 0 disables keepalive. */
  keepalive?: Partial<KeepaliveOptions>;
  /** Default deadline of every call, ms (default 30 s). 0 disables. */
  callTimeoutMs?: number;
  /** Largest packet accepted or sent (default and maximum: libvirt's 32 MiB). */
  maxPacketBytes?: number;
  /**
   * How long the event loop keeps polling after a call leaves or a reply arrives while calls are in
   * flight, µs (see busy-poll.ts: faster calls for client CPU). Default 0: the loop sleeps as soon as
   * it has nothing to do.
   */
  busyPollUs?: number;
  logger?: Logger;
}

export interface KeepaliveStats {
  pingsSent: number;
  pongsReceived: number;
  /** PINGs of the peer we answered with a PONG. */
  pingsAnswered: number;
}

/** A remote-program MESSAGE (event) packet. */
export type MessageHandler = (procedure: number, body: Buffer) => void;

/**
 * One connection's RPC machinery: a single reader loop splitting the stream into packets, writes in
 * order, replies routed to pending calls by serial, MESSAGE packets to the event handler, keepalive.
 * When the stream ends, every pending call rejects at once with an INTERRUPTED error.
 */
export class RpcClient implements RemoteCaller {
  private readonly calls = new CallTable();
  private readonly decoder: PacketDecoder;
  private readonly keepalive: Keepalive;
  private readonly logger: Logger;
  private readonly callTimeoutMs: number;
  private readonly maxPacket: number;
  private closeReason: Error | null = null;
  private readonly closeListeners: ((reason: Error) => void)[] = [];
  private messageHandler: MessageHandler | null = null;
  private readonly writer: OrderedWriter;
  private readonly busyPoll: BusyPoll;
  private readonly kaStats: KeepaliveStats = { pingsSent: 0, pongsReceived: 0, pingsAnswered: 0 };
  /** Whether this side runs keepalive (a non-zero interval). */
  readonly keepaliveEnabled: boolean;
  readonly closed: Promise<Error>;

  constructor(
    private readonly stream: Duplex,
    opts: RpcClientOptions = {},
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.maxPacket = Math.min(opts.maxPacketBytes ?? MAX_PACKET, MAX_PACKET);
    this.decoder = new PacketDecoder(this.maxPacket);
    this.busyPoll = new BusyPoll(
      opts.busyPollUs ?? 0,
      () => this.calls.size > 0 && this.closeReason === null,
    );
    const keepalive: KeepaliveOptions = {
      intervalMs: opts.keepalive?.intervalMs ?? DEFAULT_KEEPALIVE.intervalMs,
      count: opts.keepalive?.count ?? DEFAULT_KEEPALIVE.count,
    };
    this.keepaliveEnabled = keepalive.intervalMs > 0;
    this.keepalive = new Keepalive(
      keepalive,
      () => {
        this.kaStats.pingsSent++;
        this.sendKeepalive(KEEPALIVE_PROC_PING);
      },
      (silentMs) =>
        this.fail(
          new LibvirtClientError(
            'KEEPALIVE_TIMEOUT',
            `peer sent nothing for ${silentMs} ms despite keepalive pings`,
          ),
        ),
    );
    this.closed = new Promise((resolve) => this.closeListeners.push(resolve));
    const relay = (stream as RelayedStream)[READ_RELAY];
    if (relay !== undefined) relay.attach((chunk, transient) => this.onData(chunk, transient));
    else {
      // Stryker disable next-line BooleanLiteral: a needless copy of the tail changes no result
      stream.on('data', (chunk: Buffer) => this.onData(chunk, false));
    }
    this.writer = new OrderedWriter(stream);
    stream.on('error', (err) =>
      this.fail(new LibvirtClientError('INTERRUPTED', `transport error: ${err.message}`, { cause: err })),
    );
    // Stryker disable next-line StringLiteral,ArrowFunction: either event alone ends the connection (tested); both for streams that emit one
    stream.on('close', () => this.onStreamClosed());
    // Stryker disable next-line StringLiteral,ArrowFunction: as above
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
    return this.calls.size;
  }

  /** Keepalive traffic so far: our pings, the peer's pongs, and the peer's pings we answered. */
  get keepaliveStats(): KeepaliveStats {
    return { ...this.kaStats };
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
    try {
      return await this.roundTrip(program, version, procedure, args, enc, dec, opts);
    } catch (err) {
      // The error was made in the reader loop or a timer; re-capture the stack here, where V8's
      // async stack trace reaches back to the caller's code.
      // Stryker disable next-line ConditionalExpression: the stack's frames, not the error, change
      if (err instanceof Error) Error.captureStackTrace(err);
      throw err;
    }
  }

  private roundTrip<A, R>(
    program: number,
    version: number,
    procedure: number,
    args: A,
    enc: Encoder<A> | null,
    dec: Decoder<R> | null,
    opts: CallOptions,
  ): Promise<R> {
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
    const serial = this.calls.nextSerial();
    let buf: Buffer;
    try {
      buf = encodePacket(
        { program, version, procedure, type: VIR_NET_CALL, serial, status: VIR_NET_OK },
        enc === null ? undefined : (w) => enc(w, args),
        this.maxPacket,
      );
    } catch (err) {
      // The caller's arguments do not fit the protocol: nothing has been sent.
      return Promise.reject(
        isXdrError(err)
          ? new LibvirtClientError('INVALID_ARGUMENT', `${procName(program, procedure)}: ${err.message}`, {
              cause: err,
            })
          : err,
      );
    }
    const timeoutMs = opts.timeoutMs ?? this.callTimeoutMs;
    const reply = this.calls.add(serial, program, procedure, timeoutMs, signal, dec);
    this.write(buf);
    this.busyPoll.touch();
    return reply;
  }

  private write(buf: Buffer): void {
    // Stryker disable next-line ConditionalExpression: after close the stream is destroyed and the writer cleared; this spares the work
    if (this.closeReason === null) this.writer.write(buf);
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

  /** `transient`: the chunk lives in a reused read buffer, valid only during this call. */
  private onData(chunk: Buffer, transient: boolean): void {
    // Stryker disable next-line ConditionalExpression: a closed connection's stream is destroyed and delivers nothing more
    if (this.closeReason !== null) return;
    this.keepalive.received();
    let packets: Packet[];
    try {
      packets = this.decoder.push(chunk, transient);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    for (const p of packets) this.route(p);
    this.busyPoll.touch();
  }

  private route(p: Packet): void {
    const h = p.header;
    if (h.program === KEEPALIVE_PROGRAM) {
      if (h.procedure === KEEPALIVE_PROC_PING) {
        this.kaStats.pingsAnswered++;
        this.sendKeepalive(KEEPALIVE_PROC_PONG);
      } else if (h.procedure === KEEPALIVE_PROC_PONG) this.kaStats.pongsReceived++;
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
    const call = this.calls.get(h.serial);
    if (call === undefined) {
      if (this.calls.wasAbandoned(h.serial))
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
    call.reply(p.body);
  }

  private onStreamClosed(): void {
    // Stryker disable next-line ConditionalExpression: fail() has the same guard
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
    this.writer.clear();
    this.stream.destroy();
    this.calls.rejectAll(
      reason instanceof LibvirtClientError && reason.code === 'INTERRUPTED'
        ? reason
        : new LibvirtClientError('INTERRUPTED', `connection closed: ${reason.message}`, { cause: reason }),
    );
    for (const l of this.closeListeners.splice(0)) l(reason);
  }

  /** Graceful local close: pending calls reject with INTERRUPTED. */
  close(): void {
    this.fail(new LibvirtClientError('INTERRUPTED', 'connection closed by client'));
  }
}
