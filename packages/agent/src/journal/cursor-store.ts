import { readFile } from 'node:fs/promises';
import { writeFileAtomicSync } from '../state/atomic-write.ts';

/** The cursor file is unreadable: its content is not what this agent writes. */
export class CursorFileError extends Error {
  override readonly name = 'CursorFileError';
  readonly code = 'cursor_file_invalid';
}
export const isCursorFileError = (err: unknown): err is CursorFileError => err instanceof CursorFileError;

/**
 * Keeps journal cursors growing across restarts without an fsync per change: the file holds an upper
 * bound (`reserved`) of every cursor handed out. Cursors are taken from a block reserved ahead; only
 * when a block is used up is a new bound written (atomically: tmp, fsync, rename). After a restart,
 * even a `kill -9`, the next run starts above the bound, so it never repeats a cursor.
 */
export class CursorStore {
  private constructor(
    private readonly path: string,
    private readonly blockSize: number,
    private reserved: number,
  ) {}

  /**
   * Reads the bound left by the previous run (0 on a first start) and reserves the first block of this
   * one. Returns the store and `previous`, the bound every earlier cursor is at most.
   */
  static async open(path: string, blockSize = 10_000): Promise<{ store: CursorStore; previous: number }> {
    const previous = await readBound(path);
    const store = new CursorStore(path, blockSize, previous);
    store.ensure(previous + 1);
    return { store, previous };
  }

  /** The persisted bound: no cursor above it has been handed out. */
  get bound(): number {
    return this.reserved;
  }

  /** Makes `cursor` safe to hand out: when it is beyond the bound, a new block is written first. */
  ensure(cursor: number): void {
    if (cursor <= this.reserved) return;
    const next = cursor + this.blockSize;
    writeFileAtomicSync(this.path, `${JSON.stringify({ reserved: next })}\n`);
    this.reserved = next;
  }
}

async function readBound(path: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let reserved: unknown;
  try {
    reserved = (JSON.parse(text) as { reserved?: unknown }).reserved;
  } catch (err) {
    throw new CursorFileError(`${path} is not JSON`, { cause: err });
  }
  if (typeof reserved !== 'number' || !Number.isSafeInteger(reserved) || reserved < 0) {
    throw new CursorFileError(`${path} holds no valid "reserved" cursor`);
  }
  return reserved;
}
