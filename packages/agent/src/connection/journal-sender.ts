import { randomUUID } from 'node:crypto';
import type { ConnectRequest } from '@cockpit/proto';
import type { Journal } from '../journal/journal.ts';

export interface JournalSenderOptions {
  journal: Journal;
  write: (request: ConnectRequest) => Promise<void>;
  /** Most changes per StateBatch. */
  batchSize?: number;
  /** Most VMs per SnapshotChunk. */
  chunkSize?: number;
  now?: () => number;
  /** Messages sent only while no journal entry waits (metric samples). */
  secondary?: SecondaryOutbox;
}

/**
 * Messages of lower priority than the journal: one goes out only when everything journalled was sent,
 * and the journal is checked again after each, so state changes never wait behind them.
 */
export interface SecondaryOutbox {
  /** The next message and the function to call once it was written; undefined when there is none. */
  next(): { request: ConnectRequest; written(): void } | undefined;
  /** Calls `listener` whenever messages become available; returns the unsubscribe function. */
  onAvailable(listener: () => void): () => void;
}

/** Where a session starts sending: after the controller's cursor, or a snapshot. */
export type SendStart = { kind: 'replay'; after: number } | { kind: 'snapshot' };

/**
 * Sends the journal up the stream in cursor order: a snapshot first when the journal does not reach the
 * controller's cursor, then every entry after what was sent, in batches, as entries appear. Entries
 * appended in one turn of the event loop go out together. The secondary outbox's messages fill the
 * pauses.
 */
export class JournalSender {
  private sent = 0;
  private wake: (() => void) | undefined;
  private readonly batchSize: number;
  private readonly chunkSize: number;
  private readonly now: () => number;

  constructor(private readonly options: JournalSenderOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.chunkSize = options.chunkSize ?? 500;
    this.now = options.now ?? Date.now;
  }

  /** The newest cursor sent (the controller can acknowledge nothing beyond it). */
  get sentUpTo(): number {
    return this.sent;
  }

  /**
   * Runs until `signal` aborts (resolves 'stopped') or the journal dropped entries before they were sent
   * (resolves 'overflow': only a new session with a snapshot can recover). A failed write rejects.
   */
  async run(start: SendStart, signal: AbortSignal): Promise<'stopped' | 'overflow'> {
    const { journal } = this.options;
    const unsubscribe = journal.onAppend(() => this.poke());
    const unsubscribeSecondary = this.options.secondary?.onAvailable(() => this.poke());
    const onAbort = () => this.poke();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (start.kind === 'snapshot') await this.sendSnapshot();
      else this.sent = start.after;
      while (!signal.aborted) {
        if (this.sent < journal.head) {
          if (!journal.reaches(this.sent)) return 'overflow';
          const changes = journal.entriesAfter(this.sent, this.batchSize);
          await this.options.write({ message: { $case: 'state', value: { changes } } });
          this.sent = changes.at(-1)?.cursor ?? this.sent;
          continue;
        }
        const secondary = this.options.secondary?.next();
        if (secondary !== undefined) {
          await this.options.write(secondary.request);
          secondary.written();
          continue;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        // Let the rest of this turn's changes join the batch.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return 'stopped';
    } finally {
      unsubscribe();
      unsubscribeSecondary?.();
      signal.removeEventListener('abort', onAbort);
    }
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async sendSnapshot(): Promise<void> {
    // Taken in one synchronous step: consistent with exactly this cursor.
    const snapshot = this.options.journal.snapshot();
    const snapshotId = randomUUID();
    const observedAtMs = this.now();
    const chunks = Math.max(1, Math.ceil(snapshot.vms.length / this.chunkSize));
    for (let i = 0; i < chunks; i++) {
      await this.options.write({
        message: {
          $case: 'snapshot',
          value: {
            snapshotId,
            cursor: snapshot.cursor,
            vms: snapshot.vms.slice(i * this.chunkSize, (i + 1) * this.chunkSize),
            host: i === 0 ? snapshot.host : undefined,
            last: i === chunks - 1,
            observedAtMs,
          },
        },
      });
    }
    this.sent = snapshot.cursor;
  }
}
