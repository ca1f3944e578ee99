import type { ConnectRequest, HostSample, VmSample } from '@cockpit/proto';
import type { SecondaryOutbox } from '../connection/journal-sender.ts';

export interface SampleBufferOptions {
  /** Most samples kept (host and VM samples alike); the oldest go first. */
  maxSamples: number;
  /** Samples older than this behind the newest are dropped (ms of slot time). */
  maxAgeMs: number;
  /** Most samples per MetricsBatch message. */
  batchSize?: number;
}

type Sample = HostSample | VmSample;
const isVmSample = (s: Sample): s is VmSample => 'vmId' in s;

/**
 * Samples waiting to go up the stream, oldest first: each period's samples are appended; the session
 * takes them in MetricsBatch messages when the journal has nothing to send (SecondaryOutbox). Bounded by
 * count and by age: while the agent is disconnected the oldest samples are dropped, and counted.
 * Samples leave only once their message was written to a stream; a message cut off with its stream is
 * sent again by the next session.
 */
export class SampleBuffer implements SecondaryOutbox {
  private items: Array<Sample | undefined> = [];
  private head = 0;
  /** Samples that ever left from the front (sent or dropped): absolute positions of what is kept. */
  private removed = 0;
  private droppedCount = 0;
  private sentCount = 0;
  private readonly listeners = new Set<() => void>();
  private readonly batchSize: number;

  constructor(private readonly options: SampleBufferOptions) {
    this.batchSize = options.batchSize ?? 500;
  }

  /** Samples waiting. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** Samples dropped by the bounds since the start. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Samples written to the stream since the start. */
  get sent(): number {
    return this.sentCount;
  }

  /** Appends one period's samples and applies the bounds. */
  push(host: HostSample | undefined, vms: readonly VmSample[]): void {
    if (host !== undefined) this.items.push(host);
    for (const vm of vms) this.items.push(vm);
    const newest = this.items.at(-1)?.atMs ?? 0;
    while (this.size > 0) {
      const oldest = this.items[this.head];
      if (oldest === undefined) break;
      if (this.size <= this.options.maxSamples && newest - oldest.atMs <= this.options.maxAgeMs) break;
      this.dropFront();
      this.droppedCount++;
    }
    this.compact();
    for (const listener of this.listeners) listener();
  }

  next(): { request: ConnectRequest; written(): void } | undefined {
    const count = Math.min(this.size, this.batchSize);
    if (count === 0) return undefined;
    const hosts: HostSample[] = [];
    const vms: VmSample[] = [];
    for (let i = this.head; i < this.head + count; i++) {
      const sample = this.items[i];
      if (sample === undefined) continue;
      if (isVmSample(sample)) vms.push(sample);
      else hosts.push(sample);
    }
    const upTo = this.removed + count;
    return {
      request: { message: { $case: 'metrics', value: { hosts, vms } } },
      written: () => {
        // Samples dropped by the bounds meanwhile have left already; the rest of the batch leaves now.
        while (this.removed < upTo && this.size > 0) this.dropFront();
        this.sentCount += count;
        this.compact();
      },
    };
  }

  onAvailable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private dropFront(): void {
    this.items[this.head] = undefined;
    this.head++;
    this.removed++;
  }

  /** Gives the array's dead front back now and then (amortised O(1) per sample). */
  private compact(): void {
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
