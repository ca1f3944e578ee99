/**
 * An unbounded async queue: producers `push`, one consumer iterates. `fail` ends iteration with an
 * error, `end` ends it quietly; `onReturn` runs once when the consumer stops (break/return/abort).
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiter: { resolve(r: IteratorResult<T>): void; reject(e: unknown): void } | null = null;
  private done = false;
  private error: unknown = null;

  constructor(private readonly onReturn: () => void) {}

  push(item: T): void {
    if (this.done) return;
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
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
      if (err !== null && this.items.length === 0) w.reject(err);
      else w.resolve({ value: undefined, done: true });
    }
    this.onReturn();
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
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
