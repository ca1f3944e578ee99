import type { XdrReader, XdrWriter } from '../xdr/index.ts';

/** Per-call controls: every call can be cancelled and has a deadline. */
export interface CallOptions {
  /** Rejects the call with an `aborted` error when the signal fires. The daemon may still complete it. */
  signal?: AbortSignal;
  /** Deadline in milliseconds; defaults to the connection's `callTimeoutMs`. 0 disables the deadline. */
  timeoutMs?: number;
}

export type Encoder<T> = (w: XdrWriter, v: T) => void;
export type Decoder<T> = (r: XdrReader) => T;

/** What generated procedure stubs need: one remote-program call, typed by its codecs. */
export interface RemoteCaller {
  callRemote<A, R>(
    proc: number,
    args: A,
    enc: Encoder<A> | null,
    dec: Decoder<R> | null,
    opts?: CallOptions,
  ): Promise<R>;
}
