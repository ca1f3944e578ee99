import type { EventEmitter } from 'node:events';

/**
 * What grpc-js gives both ends of a bidi stream (ClientDuplexStream / ServerDuplexStream): a Node Duplex in
 * object mode; the client's side can also cancel the call.
 */
export type DuplexLike = Pick<EventEmitter, 'on' | 'off' | 'once'> & {
  write(message: unknown): boolean;
  end(): unknown;
  pause(): unknown;
  resume(): unknown;
  cancel?: () => void;
};

/** The stream ended (by either side, or its transport failed) while a message was being written. */
export class StreamClosedError extends Error {
  override readonly name = 'StreamClosedError';
  readonly code = 'stream_closed';
}
export const isStreamClosedError = (err: unknown): err is StreamClosedError =>
  err instanceof StreamClosedError;

/**
 * A gRPC bidi stream as the agent and the controller use it: incoming messages as an async iterable
 * (back-pressure: the transport is paused while the reader is busy and more than `highWaterMark` messages
 * wait), writes that wait for `drain` instead of buffering without bound, and one AbortSignal that ends it.
 */
export class MessageStream<Out, In> implements AsyncIterable<In> {
  private readonly queue: In[] = [];
  private waiting: ((r: IteratorResult<In>) => void) | undefined;
  private failWaiting: ((err: Error) => void) | undefined;
  private ended = false;
  private error: Error | undefined;
  private closed = false;

  constructor(
    private readonly stream: DuplexLike,
    options: { signal?: AbortSignal; highWaterMark?: number } = {},
  ) {
    const highWaterMark = options.highWaterMark ?? 256;
    stream.on('data', (message: In) => {
      if (this.waiting !== undefined) {
        const deliver = this.waiting;
        this.clearWaiter();
        deliver({ value: message, done: false });
        return;
      }
      this.queue.push(message);
      if (this.queue.length >= highWaterMark) stream.pause();
    });
    stream.on('end', () => this.finish());
    stream.on('close', () => this.finish());
    stream.on('error', (err: Error) => this.finish(err));
    if (options.signal !== undefined) {
      if (options.signal.aborted) this.close();
      else options.signal.addEventListener('abort', () => this.close(), { once: true });
    }
  }

  /** Writes one message; resolves once the transport accepted it (after `drain` when its buffer is full). */
  async write(message: Out): Promise<void> {
    if (this.closed || this.ended) throw new StreamClosedError('the stream is closed');
    if (this.stream.write(message)) return;
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onClose = () => {
        cleanup();
        reject(new StreamClosedError('the stream closed while a message waited to be sent'));
      };
      const cleanup = () => {
        this.stream.off('drain', onDrain);
        this.stream.off('close', onClose);
      };
      this.stream.once('drain', onDrain);
      this.stream.once('close', onClose);
    });
  }

  /** Half-closes our side (no more writes); the other side may still send until it ends. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.end();
  }

  /** Ends the stream at once, both ways (client: cancels the call). */
  close(): void {
    if (!this.closed) {
      this.closed = true;
      if (this.stream.cancel !== undefined) this.stream.cancel();
      else this.stream.end();
    }
    this.finish();
  }

  [Symbol.asyncIterator](): AsyncIterator<In> {
    return {
      next: () => {
        const message = this.queue.shift();
        if (message !== undefined) {
          if (this.queue.length === 0) this.stream.resume();
          return Promise.resolve({ value: message, done: false });
        }
        if (this.error !== undefined) return Promise.reject(this.error);
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiting = resolve;
          this.failWaiting = reject;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private clearWaiter(): void {
    this.waiting = undefined;
    this.failWaiting = undefined;
  }

  private finish(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    // A cancelled call ends with a CANCELLED error: when we closed it ourselves that is a normal end.
    if (err !== undefined && !this.closed) this.error = err;
    const resolve = this.waiting;
    const reject = this.failWaiting;
    this.clearWaiter();
    if (this.error !== undefined && reject !== undefined && this.queue.length === 0) reject(this.error);
    else resolve?.({ value: undefined, done: true });
  }
}
