import type { Duplex } from 'node:stream';

/** Batches above this size are written buffer by buffer rather than copied into one. */
const MAX_COALESCED_BYTES = 64 * 1024;

/**
 * Writes packets to a stream in order. Packets queued in the same tick (the calls a burst of
 * replies sets off) leave in one write: one syscall and one wake-up of the daemon instead of one
 * per packet. When the kernel buffer is full the rest wait for `drain` instead of piling up
 * inside the stream, and `clear` drops them when the connection dies.
 */
export class OrderedWriter {
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private draining = false;
  private readonly flushNow = () => this.flush();

  constructor(private readonly stream: Duplex) {
    stream.on('drain', () => {
      this.draining = false;
      this.flush();
    });
  }

  write(buf: Buffer): void {
    this.queue.push(buf);
    this.queuedBytes += buf.length;
    // Stryker disable next-line ConditionalExpression,LogicalOperator: more flushes per tick find the queue empty; coalescing is tested
    if (this.scheduled || this.draining) return;
    // Stryker disable next-line BooleanLiteral: as above
    this.scheduled = true;
    // After the current task and its promise continuations: whatever they queue goes out together.
    process.nextTick(this.flushNow);
  }

  /** Drops what has not been written yet (the connection is gone). */
  clear(): void {
    this.queue = [];
    this.queuedBytes = 0;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.draining || this.queue.length === 0) return;
    const queue = this.queue;
    const bytes = this.queuedBytes;
    this.queue = [];
    this.queuedBytes = 0;
    if (queue.length === 1 || bytes > MAX_COALESCED_BYTES) {
      for (const buf of queue) if (!this.stream.write(buf)) this.draining = true;
    } else if (!this.stream.write(Buffer.concat(queue, bytes))) {
      this.draining = true;
    }
  }
}
