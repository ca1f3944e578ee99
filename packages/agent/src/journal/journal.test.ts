import { mkdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Vm, VmRemovalReason, VmState } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/temp-dir.ts';
import { CursorStore } from './cursor-store.ts';
import { Journal } from './journal.ts';

const vm = (id: string, state: VmState = VmState.VM_STATE_RUNNING, extra: Partial<Vm> = {}): Vm => ({
  id,
  name: `vm-${id}`,
  state,
  stateReason: 'booted',
  vcpus: 1,
  memoryMib: 64,
  maxMemoryMib: 64,
  persistent: true,
  autostart: false,
  disks: [],
  ...extra,
});

async function openJournal(capacity = 100, dir?: string) {
  const folder = dir ?? tempDir('journal-');
  const { store, previous } = await CursorStore.open(join(folder, 'cursor.json'), 50);
  return { journal: new Journal({ cursors: store, previous, capacity, now: () => 1000 }), folder };
}

const cursors = (journal: Journal, after: number) => journal.entriesAfter(after, 1e6).map((e) => e.cursor);

describe('Journal', () => {
  it('starts empty one barrier cursor above the previous run, so the first session is a snapshot', async () => {
    const { journal } = await openJournal();
    expect(journal.floor).toBe(1);
    expect(journal.head).toBe(1);
    expect(journal.reaches(0)).toBe(false);
    expect(journal.reaches(1)).toBe(true);
  });

  it('a report whose cursor could not be written (cursor file) is not taken as known: the next one is journaled', async () => {
    const { journal, folder } = await openJournal();
    // The first block (50 cursors) used up; the next report needs a new bound written.
    for (let i = 0; i < 50; i++) journal.vm(vm(`a${i}`));
    expect(journal.head).toBe(51);
    rmSync(folder, { recursive: true });
    expect(() => journal.vm(vm('late'))).toThrow();
    expect(() => journal.vmRemoved('a0', '', VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED)).toThrow();
    expect(journal.head).toBe(51);
    mkdirSync(folder);
    journal.vm(vm('late'));
    journal.vmRemoved('a0', '', VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED);
    expect(journal.entriesAfter(51, 10).map((e) => e.change?.$case)).toEqual(['vmUpdated', 'vmRemoved']);
    expect(journal.snapshot().vms.map((v) => v.id)).toContain('late');
  });

  it('numbers each real change with the next cursor and ignores reports that change nothing', async () => {
    const { journal } = await openJournal();
    journal.inventory([vm('a'), vm('b')]);
    journal.inventory([vm('a'), vm('b')]);
    journal.vm(vm('a'));
    journal.vm(vm('a', VmState.VM_STATE_PAUSED));
    expect(journal.head).toBe(4);
    const changes = journal.entriesAfter(1, 10);
    expect(changes.map((c) => [c.cursor, c.change?.$case])).toEqual([
      [2, 'vmUpdated'],
      [3, 'vmUpdated'],
      [4, 'vmUpdated'],
    ]);
    expect(changes[2]?.change).toEqual({ $case: 'vmUpdated', value: vm('a', VmState.VM_STATE_PAUSED) });
  });

  it('a re-list without a VM it knew records its removal; removing an unknown VM records nothing', async () => {
    const { journal } = await openJournal();
    journal.inventory([vm('a'), vm('b')]);
    journal.vmRemoved('zzz', 'ghost', VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED);
    journal.inventory([vm('b')]);
    expect(journal.entriesAfter(3, 10).map((c) => c.change)).toEqual([
      {
        $case: 'vmRemoved',
        value: { id: 'a', name: 'vm-a', reason: VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED },
      },
    ]);
    expect(journal.snapshot()).toEqual({ cursor: 4, host: undefined, vms: [vm('b')] });
  });

  it('a re-list leaves the VMs it skips as they are: not updated when listed, not removed when missing', async () => {
    const { journal } = await openJournal();
    journal.inventory([vm('a'), vm('b')]);
    journal.inventory([vm('a', VmState.VM_STATE_PAUSED)], new Set(['a', 'b']));
    expect(journal.head).toBe(3);
    expect(journal.snapshot().vms).toEqual([vm('a'), vm('b')]);
  });

  it('host info: the first record is not an entry, a change is, the same record again is not', async () => {
    const { journal } = await openJournal();
    const host = {
      hypervisor: 'QEMU 7.2.0',
      libvirtVersion: '9.0.0',
      cpus: 2,
      memoryMib: 4096,
      cpuModel: 'x86_64',
      hostUuid: 'u',
    };
    journal.host(host);
    journal.host({ ...host });
    expect(journal.head).toBe(1);
    journal.host({ ...host, memoryMib: 8192 });
    expect(journal.entriesAfter(1, 10).map((c) => c.change?.$case)).toEqual(['hostUpdated']);
    expect(journal.snapshot().host?.memoryMib).toBe(8192);
  });

  it('is bounded: the oldest entries go and the floor rises past them', async () => {
    const { journal } = await openJournal(3);
    for (let i = 0; i < 5; i++) journal.vm(vm('a', VmState.VM_STATE_RUNNING, { memoryMib: 100 + i }));
    expect(journal.head).toBe(6);
    expect(journal.floor).toBe(3);
    expect(journal.size).toBe(3);
    expect(journal.reaches(2)).toBe(false);
    expect(cursors(journal, 3)).toEqual([4, 5, 6]);
  });

  it('acks trim what was applied and nothing else; an ack beyond head trims nothing', async () => {
    const { journal } = await openJournal();
    for (let i = 0; i < 5; i++) journal.vm(vm(`v${i}`));
    journal.acknowledge(99);
    expect(journal.floor).toBe(1);
    expect(cursors(journal, 1)).toEqual([2, 3, 4, 5, 6]);
    journal.acknowledge(4);
    expect(journal.floor).toBe(4);
    expect(cursors(journal, 4)).toEqual([5, 6]);
    journal.acknowledge(3);
    expect(journal.floor).toBe(4);
    journal.acknowledge(6);
    expect(journal.size).toBe(0);
    expect(journal.reaches(6)).toBe(true);
  });

  it('advancePast moves the cursor beyond a controller that is ahead; the picture is kept', async () => {
    const { journal } = await openJournal();
    journal.inventory([vm('a')]);
    journal.advancePast(5000);
    expect(journal.head).toBe(5001);
    expect(journal.floor).toBe(5001);
    expect(journal.snapshot()).toEqual({ cursor: 5001, host: undefined, vms: [vm('a')] });
    journal.vm(vm('a', VmState.VM_STATE_SHUT_OFF));
    expect(cursors(journal, 5001)).toEqual([5002]);
  });

  it('stays consistent through many trims and compactions', async () => {
    const { journal } = await openJournal(5000);
    let acked = 1;
    for (let i = 0; i < 20_000; i++) {
      journal.vm(vm(`v${i % 7}`, VmState.VM_STATE_RUNNING, { memoryMib: i }));
      if (i % 97 === 0) {
        acked = journal.head - 3;
        journal.acknowledge(acked);
      }
    }
    const replay = journal.entriesAfter(journal.floor, 1e6);
    expect(replay.length).toBe(journal.head - journal.floor);
    expect(replay[0]?.cursor).toBe(journal.floor + 1);
    expect(replay.at(-1)?.cursor).toBe(journal.head);
  });
});

describe('CursorStore', () => {
  it('a restart starts above every cursor the previous run handed out, even without a clean stop', async () => {
    const { journal, folder } = await openJournal();
    // More changes than one reserved block (50): the bound was raised on the way.
    for (let i = 0; i < 120; i++) journal.vm(vm('a', VmState.VM_STATE_RUNNING, { memoryMib: i }));
    const used = journal.head;
    // The first run is abandoned as a kill -9 would: no close, no flush.
    const { journal: second } = await openJournal(100, folder);
    expect(second.floor).toBeGreaterThan(used);
    second.vm(vm('b'));
    expect(second.head).toBeGreaterThan(used);
    const onDisk = JSON.parse(await readFile(join(folder, 'cursor.json'), 'utf8')) as { reserved: number };
    expect(onDisk.reserved).toBeGreaterThanOrEqual(second.head);
  });

  it('writes the bound once per block, not per change', async () => {
    const folder = tempDir('cursor-');
    const { store } = await CursorStore.open(join(folder, 'cursor.json'), 1000);
    expect(store.bound).toBe(1001);
    for (let c = 2; c <= 1001; c++) store.ensure(c);
    expect(store.bound).toBe(1001);
    store.ensure(1002);
    expect(store.bound).toBe(2002);
  });
});
