/**
 * Reads a stream's messages one at a time, and can also take the next one only if it already arrived
 * (without waiting): how a session merges the state batches that queued up while it applied the
 * previous one. A read that had to wait is kept for the next `next()`, so nothing is lost or reordered.
 */
export class MessageReader<T> {
  private pending: Promise<IteratorResult<T>> | undefined;

  constructor(private readonly messages: AsyncIterator<T>) {}

  next(): Promise<IteratorResult<T>> {
    const read = this.pending ?? this.messages.next();
    this.pending = undefined;
    return read;
  }

  /**
   * The next message if it is already here, else undefined. A queued message resolves within the
   * current round of microtasks, well before `setImmediate` runs.
   */
  async queued(): Promise<IteratorResult<T> | undefined> {
    const read = this.pending ?? this.messages.next();
    const result = await Promise.race([
      read,
      new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined))),
    ]);
    this.pending = result === undefined || result.done === true ? read : undefined;
    return result;
  }

  /** Puts a message back: the next `next()` returns it. */
  unread(message: IteratorResult<T>): void {
    this.pending = Promise.resolve(message);
  }
}
