import { LibvirtClientError } from '../errors.ts';
import { REMOTE_PROCEDURE_NAMES } from '../protocol/remote-procedures.gen.ts';
import { REMOTE_PROGRAM } from '../protocol/remote-types.gen.ts';

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
  reject(e: Error): void;
}

/** How many abandoned serials (timed out / aborted) we remember, so their late replies log quietly. */
const ABANDONED_MAX = 1024;

/**
 * The calls in flight on one connection, by serial: hands out serials, enforces each call's deadline
 * and AbortSignal, remembers abandoned serials, and rejects everything at once when asked.
 */
export class CallTable {
  private serial = 0;
  private readonly pending = new Map<number, PendingCall>();
  private readonly abandoned = new Set<number>();

  get size(): number {
    return this.pending.size;
  }

  /** The next serial; 0 is what keepalive and event messages carry, so a call never gets it. */
  nextSerial(): number {
    this.serial = (this.serial + 1) >>> 0 || 1;
    return this.serial;
  }

  /**
   * Registers the call `serial` and returns the promise of its decoded reply. `timeoutMs` 0 = no
   * deadline. The caller sends the packet after this returns.
   */
  add<R>(
    serial: number,
    program: number,
    procedure: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    decode: (body: Buffer) => R,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const settle = () => {
        if (timer !== null) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(serial);
      };
      const abandon = (err: Error) => {
        this.abandon(serial);
        settle();
        reject(err);
      };
      const onAbort = () =>
        abandon(
          new LibvirtClientError('ABORTED', `${procName(program, procedure)} aborted`, {
            cause: signal?.reason,
          }),
        );
      if (timeoutMs > 0) {
        timer = setTimeout(
          () =>
            abandon(
              new LibvirtClientError(
                'TIMEOUT',
                `${procName(program, procedure)} got no reply within ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(serial, {
        program,
        procedure,
        reply: (body) => {
          settle();
          try {
            resolve(decode(body));
          } catch (err) {
            reject(err);
          }
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      });
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

  private abandon(serial: number): void {
    this.abandoned.add(serial);
    if (this.abandoned.size > ABANDONED_MAX) {
      const oldest = this.abandoned.values().next().value;
      if (oldest !== undefined) this.abandoned.delete(oldest);
    }
  }
}
