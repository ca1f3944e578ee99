import type { Duplex } from 'node:stream';

/** Batches above this size are written buffer by buffer rather than copied into one. */
const MAX_COALESCED_BYTES = 64 * 1024;

/**
 * Writes packets to a stream in order. While the stream takes them, each packet goes to the socket
 * as it is made: one write(2), no copy, and the daemon can start on a call while the next one is
 * still being encoded. When the kernel buffer is full the packets that follow wait here (not piled
 * up inside the stream) and leave together, in one write, on `drain`; `clear` drops them when the
 * connection dies.
 *
 * Writing at once replaced sending the calls of one tick in one coalesced write, which made the
 * calls a burst of replies sets off reach the daemon as a burst too and cost the client a nextTick
 * and a copy per batch. Measured against libvirtd (docs/benchmarks.md, bench:libvirt, "Which
 * vCPU"): faster with 4 calls in flight on two vCPUs, no slower elsewhere.
 */
export class OrderedWriter {
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private draining = false;

  constructor(private readonly stream: Duplex) {
    stream.on('drain', () => {
      this.draining = false;
      this.flush();
    });
  }

  write(buf: Buffer): void {
    if (this.draining) {
      this.queue.push(buf);
      this.queuedBytes += buf.length;
      return;
    }
    if (!this.stream.write(buf)) this.draining = true;
  }

  /** Drops what has not been written yet (the connection is gone). */
  clear(): void {
    this.queue = [];
    this.queuedBytes = 0;
  }

  private flush(): void {
    if (this.queue.length === 0) return;
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
