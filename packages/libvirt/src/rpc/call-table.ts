import { LibvirtClientError } from '../errors.ts';
import { REMOTE_PROCEDURE_NAMES } from '../protocol/remote-procedures.gen.ts';
import { REMOTE_PROGRAM } from '../protocol/remote-types.gen.ts';
import { XdrReader } from '../xdr/index.ts';
import type { Decoder } from './remote-caller.ts';

/** `DOMAIN_GET_INFO` for remote-program procedures, `program 0x…/proc n` otherwise. */
export function procName(program: number, procedure: number): string {
  const name = program === REMOTE_PROGRAM ? REMOTE_PROCEDURE_NAMES[procedure] : undefined;
  return name ?? `program 0x${program.toString(16)} procedure ${procedure}`;
}

/** A call waiting for its reply. */
export interface PendingCall {
  program: number;
  procedure: number;
  /** Settles the call with its reply body, decoded at once (the body may live in a reused buffer). */
  reply(body: Buffer): void;
  /** Settles the call with a failure. */
  reject(e: Error): void;
  /** Gives up on the call (deadline, abort): its serial is remembered, its late reply dropped. */
  abandon(e: Error): void;
}

/** How many abandoned serials (timed out / aborted) we remember, so their late replies log quietly. */
const ABANDONED_MAX = 1024;

/**
 * The calls in flight on one connection, by serial: hands out serials, enforces each call's deadline
 * and AbortSignal, remembers abandoned serials, and rejects everything at once when asked.
 */
export class CallTable {
  private readonly pending = new Map<number, PendingCall>();
  private readonly abandoned = new Set<number>();

  /** `serial`: the last serial handed out (a new connection starts at 0). */
  constructor(private serial = 0) {}

  get size(): number {
    return this.pending.size;
  }

  /** The next serial; 0 is what keepalive and event messages carry, so a call never gets it. */
  nextSerial(): number {
    this.serial = (this.serial + 1) >>> 0 || 1;
    return this.serial;
  }

  /**
   * Registers the call `serial` and returns the promise of its reply, decoded with `decoder` (null:
   * an empty reply). `timeoutMs` 0 = no deadline. The caller sends the packet after this returns.
   */
  add<R>(
    serial: number,
    program: number,
    procedure: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    decoder: Decoder<R> | null,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const call = new Call(this, serial, program, procedure, decoder, signal, resolve, reject);
      if (timeoutMs > 0) call.timer = setTimeout(onDeadline, timeoutMs, call, timeoutMs);
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: settle() removes the listener anyway; once is belt and braces
      signal?.addEventListener('abort', call, { once: true });
      this.pending.set(serial, call);
    });
  }

  get(serial: number): PendingCall | undefined {
    return this.pending.get(serial);
  }

  /** Whether `serial` was a call given up on (timed out or aborted); forgets it. */
  wasAbandoned(serial: number): boolean {
    return this.abandoned.delete(serial);
  }

  /** Rejects every pending call with `err`. */
  rejectAll(err: Error): void {
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const c of calls) c.reject(err);
  }

  /** Forgets a settled call; with `abandoned`, remembers its serial so a late reply logs quietly. */
  remove(serial: number, abandoned: boolean): void {
    this.pending.delete(serial);
    if (abandoned) this.abandon(serial);
  }

  private abandon(serial: number): void {
    this.abandoned.add(serial);
    if (this.abandoned.size > ABANDONED_MAX) {
      const oldest = this.abandoned.values().next().value;
      // Stryker disable next-line ConditionalExpression: the set is not empty here; the check only satisfies the type
      if (oldest !== undefined) this.abandoned.delete(oldest);
    }
  }
}

function onDeadline(call: Pick<PendingCall, 'program' | 'procedure' | 'abandon'>, timeoutMs: number): void {
  call.abandon(
    new LibvirtClientError(
      'TIMEOUT',
      `${procName(call.program, call.procedure)} got no reply within ${timeoutMs} ms`,
    ),
  );
}

/**
 * One pending call. A class rather than closures: one object per call on the hot path, and the
 * AbortSignal listener is the call itself (`handleEvent`).
 */
class Call<R> implements PendingCall {
  timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly table: CallTable,
    private readonly serial: number,
    readonly program: number,
    readonly procedure: number,
    private readonly decoder: Decoder<R> | null,
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (v: R) => void,
    private readonly fail: (e: unknown) => void,
  ) {}

  reply(body: Buffer): void {
    this.settle(false);
    let value: R;
    try {
      value = decodeReply(this.program, this.procedure, this.decoder, body);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.resolve(value);
  }

  reject(e: Error): void {
    this.settle(false);
    this.fail(e);
  }

  /** The signal fired. */
  handleEvent(): void {
    const name = procName(this.program, this.procedure);
    // Stryker disable next-line OptionalChaining: only a signal calls handleEvent, so it is set
    this.abandon(new LibvirtClientError('ABORTED', `${name} aborted`, { cause: this.signal?.reason }));
  }

  /** Gives up on the call (deadline, abort): its serial is remembered, its late reply dropped. */
  abandon(err: Error): void {
    this.settle(true);
    this.fail(err);
  }

  private settle(abandoned: boolean): void {
    // Stryker disable next-line ConditionalExpression: clearTimeout(null) is a no-op; the check is for the reader
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.signal?.removeEventListener('abort', this);
    this.table.remove(this.serial, abandoned);
  }
}

/** Decodes a reply body in full: an undecodable body or trailing bytes fail the call with PROTOCOL. */
export function decodeReply<R>(program: number, procedure: number, dec: Decoder<R> | null, body: Buffer): R {
  const r = new XdrReader(body);
  try {
    const v = dec === null ? (undefined as R) : dec(r);
    r.end();
    return v;
  } catch (err) {
    throw new LibvirtClientError(
      'PROTOCOL',
      `cannot decode reply to ${procName(program, procedure)}: ${String(err)}`,
      { cause: err },
    );
  }
}
