import { type FileHandle, open, readFile } from 'node:fs/promises';
import type { CommandUpdate } from '@cockpit/proto';
import { writeFileAtomic } from '../state/atomic-write.ts';

export interface CommandFailure {
  code: string;
  message: string;
}

export type CommandOutcome =
  | { status: 'succeeded'; detail?: CommandUpdate['detail'] }
  | { status: 'failed'; error: CommandFailure };

/**
 * What a command noted while it ran, for a later command that must act on what this one did without
 * taking the controller's word for it (as an abandon does with its prepare's answer).
 */
export interface CommandNote {
  /** A perform with a storage copy: this host's images libvirt copies away (from the VM's own definition). */
  copiedImages: string[];
}

export interface CommandEntry {
  id: string;
  acceptedAtMs: number;
  /** Absent while the command runs. */
  outcome?: CommandOutcome;
  note?: CommandNote;
}

export interface CommandRecordOptions {
  /** Most commands remembered (the oldest finished ones are forgotten first). */
  maxEntries?: number;
  /** Finished commands older than this are forgotten. */
  maxAgeMs?: number;
  now?: () => number;
}

/** The outcome recorded for a command the agent accepted but whose run a restart cut short. */
export const INTERRUPTED: CommandOutcome = {
  status: 'failed',
  error: {
    code: 'interrupted',
    message: 'the agent restarted while the command ran; its outcome is unknown, it was not run again',
  },
};

/**
 * The outcome of a command whose acceptance could not be written: not run (running it could run it twice
 * after a restart). Kept in memory, so a copy of the id sent again gets this answer, not RUNNING.
 */
export const NOT_RECORDED: CommandOutcome = {
  status: 'failed',
  error: { code: 'internal', message: 'the agent could not record the command; it was not run' },
};

type Line =
  | { id: string; at: number; accepted: true }
  | { id: string; at: number; outcome: CommandOutcome }
  | { id: string; at: number; note: CommandNote };

/** Command ids are UUIDs: compared as values, whatever their case. */
const keyOf = (id: string) => id.toLowerCase();

/**
 * The agent's memory of commands, so each id runs at most once: `accept` is on disk (fsync) before the
 * command runs, its outcome after. An append-only JSON-lines file, compacted when it grows to twice the
 * entries kept. A command found accepted but unfinished when the record is opened (the agent died while
 * it ran) gets the outcome INTERRUPTED and is never run.
 */
export class CommandRecord {
  private readonly entries = new Map<string, CommandEntry>();
  private file: FileHandle | undefined;
  private lines = 0;
  private queue: Promise<void> = Promise.resolve();
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  private constructor(
    private readonly path: string,
    options: CommandRecordOptions,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxAgeMs = options.maxAgeMs ?? 7 * 24 * 60 * 60 * 1000;
    this.now = options.now ?? Date.now;
  }

  /** Reads the record; returns it with the ids it marked INTERRUPTED. */
  static async open(
    path: string,
    options: CommandRecordOptions = {},
  ): Promise<{ record: CommandRecord; interrupted: string[] }> {
    const record = new CommandRecord(path, options);
    const interrupted = await record.load();
    return { record, interrupted };
  }

  get(id: string): CommandEntry | undefined {
    return this.entries.get(keyOf(id));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Remembered commands by status (the agent's /metrics). */
  statusCounts(): { running: number; succeeded: number; failed: number } {
    const counts = { running: 0, succeeded: 0, failed: 0 };
    for (const entry of this.entries.values()) counts[entry.outcome?.status ?? 'running']++;
    return counts;
  }

  /**
   * Records that `id` is about to run; durable when the promise resolves. When it rejects, the command
   * must not run, and the entry says so (NOT_RECORDED).
   */
  accept(id: string): Promise<void> {
    const entry: CommandEntry = { id, acceptedAtMs: this.now() };
    this.entries.set(keyOf(id), entry);
    return this.write({ id, at: entry.acceptedAtMs, accepted: true }).catch((err: unknown) => {
      entry.outcome = NOT_RECORDED;
      throw err;
    });
  }

  /** Records what `id` noted while it runs; durable when the promise resolves. */
  note(id: string, note: CommandNote): Promise<void> {
    const entry = this.entries.get(keyOf(id));
    if (entry === undefined) return Promise.resolve();
    entry.note = note;
    return this.write({ id, at: this.now(), note });
  }

  /** Records how `id` ended; durable when the promise resolves. */
  finish(id: string, outcome: CommandOutcome): Promise<void> {
    const entry = this.entries.get(keyOf(id)) ?? { id, acceptedAtMs: this.now() };
    entry.outcome = outcome;
    this.entries.set(keyOf(id), entry);
    return this.write({ id, at: this.now(), outcome });
  }

  async close(): Promise<void> {
    await this.queue;
    await this.file?.close();
    this.file = undefined;
  }

  private write(line: Line): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.lines >= 2 * this.maxEntries) await this.compact();
      const file = await this.handle();
      await file.write(`${JSON.stringify(line)}\n`);
      await file.datasync();
      this.lines++;
    });
    // A failed write fails its caller; the queue goes on for the next one.
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async handle(): Promise<FileHandle> {
    this.file ??= await open(this.path, 'a', 0o600);
    return this.file;
  }

  private async load(): Promise<string[]> {
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const raw of text.split('\n')) {
      const line = parseLine(raw);
      if (line === undefined) continue;
      if ('accepted' in line) this.entries.set(keyOf(line.id), { id: line.id, acceptedAtMs: line.at });
      else if ('note' in line) {
        const entry = this.entries.get(keyOf(line.id));
        if (entry !== undefined) entry.note = line.note;
      } else {
        const entry = this.entries.get(keyOf(line.id)) ?? { id: line.id, acceptedAtMs: line.at };
        entry.outcome = line.outcome;
        this.entries.set(keyOf(line.id), entry);
      }
    }
    const interrupted: string[] = [];
    for (const entry of this.entries.values()) {
      if (entry.outcome === undefined) {
        entry.outcome = INTERRUPTED;
        interrupted.push(entry.id);
      }
    }
    // Rewritten at every start that finds a record: that also drops a line torn by a crash, which the
    // next append would otherwise run into. Nothing to rewrite on a first start.
    if (text !== '') await this.compact();
    return interrupted;
  }

  /** Forgets what is too old or too many, and rewrites the file with what is kept. */
  private async compact(): Promise<void> {
    const oldest = this.now() - this.maxAgeMs;
    for (const [key, entry] of this.entries) {
      const finished = entry.outcome !== undefined;
      if (finished && (entry.acceptedAtMs < oldest || this.entries.size > this.maxEntries)) {
        this.entries.delete(key);
      }
    }
    const lines: string[] = [];
    for (const entry of this.entries.values()) {
      lines.push(JSON.stringify({ id: entry.id, at: entry.acceptedAtMs, accepted: true }));
      if (entry.note !== undefined)
        lines.push(JSON.stringify({ id: entry.id, at: entry.acceptedAtMs, note: entry.note }));
      if (entry.outcome !== undefined) {
        lines.push(JSON.stringify({ id: entry.id, at: entry.acceptedAtMs, outcome: entry.outcome }));
      }
    }
    await this.file?.close();
    this.file = undefined;
    await writeFileAtomic(this.path, lines.length > 0 ? `${lines.join('\n')}\n` : '');
    this.lines = lines.length;
  }
}

// A line torn by a crash mid-write (only ever the last one) or anything else unreadable is skipped.
function parseLine(raw: string): Line | undefined {
  if (raw.trim() === '') return undefined;
  try {
    const line = JSON.parse(raw) as Partial<Line> & { accepted?: unknown; outcome?: unknown; note?: unknown };
    if (typeof line.id !== 'string' || typeof line.at !== 'number') return undefined;
    if (line.accepted === true) return { id: line.id, at: line.at, accepted: true };
    if (isOutcome(line.outcome)) return { id: line.id, at: line.at, outcome: line.outcome };
    if (isNote(line.note)) return { id: line.id, at: line.at, note: line.note };
    return undefined;
  } catch {
    return undefined;
  }
}

function isOutcome(value: unknown): value is CommandOutcome {
  if (typeof value !== 'object' || value === null) return false;
  const o = value as { status?: unknown; error?: { code?: unknown; message?: unknown } };
  if (o.status === 'succeeded') return true;
  return o.status === 'failed' && typeof o.error?.code === 'string' && typeof o.error.message === 'string';
}

function isNote(value: unknown): value is CommandNote {
  if (typeof value !== 'object' || value === null) return false;
  const images = (value as { copiedImages?: unknown }).copiedImages;
  return Array.isArray(images) && images.every((path) => typeof path === 'string');
}
