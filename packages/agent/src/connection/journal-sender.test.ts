import { join } from 'node:path';
import { type ConnectRequest, type HostSample, type Vm, VmState } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/temp-dir.ts';
import { CursorStore } from '../journal/cursor-store.ts';
import { Journal } from '../journal/journal.ts';
import { SampleBuffer } from '../metrics/sample-buffer.ts';
import { JournalSender } from './journal-sender.ts';

// The secondary outbox (metric samples) only fills the journal's pauses: a snapshot and every pending
// state change go first, also when changes arrive while a backlog of samples is going out.

const vm = (id: string, state: VmState = VmState.VM_STATE_RUNNING): Vm => ({
  id,
  name: id,
  state,
  stateReason: 'booted',
  vcpus: 1,
  memoryMib: 64,
  maxMemoryMib: 64,
  persistent: true,
  autostart: false,
  disks: [],
});

const host = (atMs: number): HostSample => ({
  atMs,
  cpuPercent: 0,
  memoryTotalBytes: 1,
  memoryUsedBytes: 0,
  memoryAvailableBytes: 1,
  intervalMs: 0,
  presentFields: 0,
});

async function setup() {
  const dir = tempDir('sender-');
  const { store, previous } = await CursorStore.open(join(dir, 'cursor.json'));
  const journal = new Journal({ cursors: store, previous, capacity: 1_000 });
  const buffer = new SampleBuffer({ maxSamples: 10_000, maxAgeMs: 3_600_000, batchSize: 1 });
  return { journal, buffer };
}

const kindOf = (r: ConnectRequest) =>
  r.message?.$case === 'metrics' ? `metrics@${r.message.value.hosts[0]?.atMs}` : (r.message?.$case ?? '?');

describe('JournalSender with a secondary outbox', () => {
  it('snapshot first, then samples; a state change that arrives during the backlog jumps the queue', async () => {
    const { journal, buffer } = await setup();
    journal.inventory([vm('a')]);
    for (let t = 1; t <= 4; t++) buffer.push(host(t), []);
    const written: string[] = [];
    const stop = new AbortController();
    const sender = new JournalSender({
      journal,
      secondary: buffer,
      write: async (request) => {
        written.push(kindOf(request));
        // While the first sample goes out, the VM is paused.
        if (written.length === 2) journal.vm(vm('a', VmState.VM_STATE_PAUSED));
        if (written.length === 6) stop.abort();
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    await sender.run({ kind: 'snapshot' }, stop.signal);
    expect(written).toEqual(['snapshot', 'metrics@1', 'state', 'metrics@2', 'metrics@3', 'metrics@4']);
    expect(buffer.size).toBe(0);
  });

  it('wakes for samples that arrive while the journal is idle', async () => {
    const { journal, buffer } = await setup();
    const written: string[] = [];
    const stop = new AbortController();
    const sender = new JournalSender({
      journal,
      secondary: buffer,
      write: async (request) => {
        written.push(kindOf(request));
        if (written.length === 2) stop.abort();
      },
    });
    const running = sender.run({ kind: 'replay', after: journal.head }, stop.signal);
    // The sender is parked on its wake-up (nothing to send): a few turns of the event loop change nothing.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(written).toEqual([]);
    buffer.push(host(7), []);
    buffer.push(host(8), []);
    await running;
    expect(written).toEqual(['metrics@7', 'metrics@8']);
  });

  it('a write that fails leaves its samples in the buffer for the next session', async () => {
    const { journal, buffer } = await setup();
    buffer.push(host(1), []);
    const sender = new JournalSender({
      journal,
      secondary: buffer,
      write: async () => {
        throw new Error('stream closed');
      },
    });
    await expect(
      sender.run({ kind: 'replay', after: journal.head }, new AbortController().signal),
    ).rejects.toThrow('stream closed');
    expect(buffer.size).toBe(1);
  });
});
