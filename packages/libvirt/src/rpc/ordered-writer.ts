import type { Duplex } from 'node:stream';

/**
 * Writes packets to a stream in order; when the kernel buffer is full the rest wait for `drain`
 * instead of piling up inside the stream, and `clear` drops them when the connection dies.
 */
export class OrderedWriter {
  private queue: Buffer[] = [];
  private draining = false;

  constructor(private readonly stream: Duplex) {
    stream.on('drain', () => this.flush());
  }

  write(buf: Buffer): void {
    if (this.draining) {
      this.queue.push(buf);
      return;
    }
    if (!this.stream.write(buf)) this.draining = true;
  }

  clear(): void {
    this.queue = [];
  }

  private flush(): void {
    this.draining = false;
    while (this.queue.length > 0 && !this.draining) {
      const next = this.queue.shift();
      if (next !== undefined && !this.stream.write(next)) this.draining = true;
    }
  }
}
