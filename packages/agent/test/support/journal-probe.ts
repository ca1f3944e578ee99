import { join } from 'node:path';
import type { StateChange, Vm } from '@cockpit/proto';
import { CursorStore } from '../../src/journal/cursor-store.ts';
import { Journal } from '../../src/journal/journal.ts';
import { tempDir } from './temp-dir.ts';

/** A journal on a temporary cursor file, with helpers to read what it recorded about one VM. */
export async function probeJournal(capacity = 10_000): Promise<{ journal: Journal; start: number }> {
  const dir = tempDir('agent-journal-');
  const { store, previous } = await CursorStore.open(join(dir, 'cursor.json'));
  const journal = new Journal({ cursors: store, previous, capacity });
  return { journal, start: journal.head };
}

const idOf = (c: StateChange): string | undefined =>
  c.change?.$case === 'vmUpdated' || c.change?.$case === 'vmRemoved' ? c.change.value.id : undefined;

/** Every entry about `vmId` after `start`. */
export const entriesOf = (journal: Journal, start: number, vmId: string): StateChange[] =>
  journal.entriesAfter(start, 1e9).filter((c) => idOf(c) === vmId);

/** The latest record of `vmId` (undefined: never seen, or removed). */
export const recordOf = (journal: Journal, vmId: string): Vm | undefined =>
  journal.snapshot().vms.find((v) => v.id === vmId);
