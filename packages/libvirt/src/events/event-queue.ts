/** What a full queue does with one more item. */
export type OverflowPolicy =
  /** Drop the oldest buffered item to make room and count it in `dropped` (the stream goes on). */
  | 'dropOldest'
  /** End the stream: the buffered items are still delivered, then iteration throws `overflowError()`. */
  | 'fail';

export interface EventQueueOptions {
  /** Most items buffered for a consumer that does not keep up (default 10,000). */
  maxBuffered?: number;
  overflow?: OverflowPolicy;
  /** The error a `fail` overflow ends the stream with. */
  overflowError?: (maxBuffered: number) => unknown;
  /** Runs once when the consumer stops (break/return/abort) or the stream ends. */
  onReturn?: () => void;
}

export const DEFAULT_MAX_BUFFERED = 10_000;

/**
 * A bounded async queue: producers `push`, one consumer iterates. `fail` ends iteration with an
 * error after the buffered items, `end` ends it quietly. Bounded because the producer is a daemon
 * we don't control: a consumer that stops reading must not grow the heap without limit.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiter: { resolve(r: IteratorResult<T>): void; reject(e: unknown): void } | null = null;
  private done = false;
  private error: unknown = null;
  private droppedCount = 0;
  private readonly maxBuffered: number;

  constructor(private readonly opts: EventQueueOptions = {}) {
    this.maxBuffered = Math.max(1, opts.maxBuffered ?? DEFAULT_MAX_BUFFERED);
  }

  /** Items dropped by the `dropOldest` policy so far. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Items waiting for the consumer. */
  get buffered(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.done) return;
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: item, done: false });
      return;
    }
    if (this.items.length >= this.maxBuffered) {
      if (this.opts.overflow === 'fail') {
        this.fail(this.opts.overflowError?.(this.maxBuffered) ?? new Error('event queue overflow'));
        return;
      }
      this.items.shift();
      this.droppedCount++;
    }
    this.items.push(item);
  }

  end(): void {
    this.finish(null);
  }

  fail(err: unknown): void {
    this.finish(err);
  }

  private finish(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.error = err;
    const w = this.waiter;
    this.waiter = null;
    if (w !== null) {
      if (err !== null && this.items.length === 0) {
        this.error = null;
        w.reject(err);
      } else w.resolve({ value: undefined, done: true });
    }
    this.opts.onReturn?.();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.done) {
      if (this.error !== null) {
        const e = this.error;
        this.error = null;
        return Promise.reject(e);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.finish(null);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
