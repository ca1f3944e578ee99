import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { HostInfo, type StateChange, Vm, VmRemovalReason, VmState } from '@cockpit/proto';
import { expect, it, vi } from 'vitest';
import { tempDir } from '../../../test/support/temp-dir.ts';
import { CursorStore } from '../../journal/cursor-store.ts';
import { Journal } from '../../journal/journal.ts';
import { createLogger } from '../../log/logger.ts';
import type { DriverSink } from '../driver.ts';
import { isDriverError } from '../driver-error.ts';
import { connectLink } from './connect-link.ts';
import { LibvirtDriver, type LibvirtDriverOptions } from './libvirt-driver.ts';
import type { DomainNotice, LibvirtLink } from './libvirt-link.ts';

// No libvirtd at the address: the driver keeps trying with backoff (not a busy loop), power calls say the
// hypervisor is unavailable, and close() ends it all. (Against a real libvirtd: test/libvirt-driver.test.ts.)
it('retries an unreachable libvirtd with backoff until closed', async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const { store, previous } = await CursorStore.open(join(tempDir('lv-'), 'cursor.json'));
  const driver = new LibvirtDriver({
    uri: `qemu+tcp://127.0.0.1:${port}/system`,
    resyncIntervalMs: 60_000,
    log: createLogger('debug', stream),
    connect: connectLink,
    backoff: { baseMs: 20, capMs: 200 },
  });
  const started = driver.start(new Journal({ cursors: store, previous, capacity: 100 }));
  const retries = () => lines.filter((l) => l.msg === 'reconnecting to libvirt');
  await expect.poll(() => retries().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(4);
  expect(lines.find((l) => l.msg === 'cannot connect to libvirt')?.err).toMatch(/ECONNREFUSED|connect/i);
  retries().forEach((line, i) => {
    expect(line.failures).toBe(i + 1);
    expect(line.retryInMs).toBeLessThan(Math.min(200, 20 * 2 ** i));
  });
  const err = await driver.power('00000000-0000-4000-8000-000000000001', 'start').catch((e: unknown) => e);
  expect(isDriverError(err) && err.code).toBe('hypervisor_unavailable');
  await driver.close();
  await started;
});

/**
 * A link to no libvirtd: the test pushes the notices and answers each read. Listings answer `listed` at
 * once, or, while `script.holdListings` is set, wait in `listings` for the test to answer them.
 * `script.dropped` is the notice stream's count of dropped events.
 */
function scriptedLink(listed: Vm[]) {
  const script = { holdListings: false, dropped: 0 };
  const listings: Array<(vms: Vm[]) => void> = [];
  const notices: DomainNotice[] = [];
  let wake: (() => void) | undefined;
  /** The driver asked for the next notice: it has handled every one before. */
  let waiting = false;
  const reads: Array<{ uuid: string; answer: (vm: Vm | undefined) => void }> = [];
  const link: LibvirtLink = {
    closed: new Promise<Error>(() => undefined),
    watch: async (signal) => {
      signal.addEventListener('abort', () => wake?.());
      return {
        get dropped() {
          return script.dropped;
        },
        async *[Symbol.asyncIterator]() {
          while (!signal.aborted) {
            const next = notices.shift();
            if (next !== undefined) yield next;
            else {
              waiting = true;
              await new Promise<void>((resolve) => {
                wake = resolve;
              });
              waiting = false;
            }
          }
        },
      };
    },
    listVms: () =>
      script.holdListings ? new Promise((answer) => listings.push(answer)) : Promise.resolve(listed),
    readVm: (uuid) => new Promise((answer) => reads.push({ uuid, answer })),
    hostInfo: async () => HostInfo.fromPartial({ hypervisor: 'scripted' }),
    power: async () => undefined,
    close: async () => undefined,
    readCounters: async () => {
      throw new Error('not scripted');
    },
  };
  const notify = (notice: DomainNotice) => {
    notices.push(notice);
    wake?.();
  };
  const handled = () => waiting && notices.length === 0;
  return { link, notify, reads, handled, script, listings };
}

function recordingSink() {
  const removals: Array<{ id: string; reason: VmRemovalReason }> = [];
  const sink: DriverSink = {
    vm: () => undefined,
    vmRemoved: (id, _name, reason) => removals.push({ id, reason }),
    inventory: () => undefined,
    host: () => undefined,
  };
  return { sink, removals };
}

const UUID_1 = '6c9f1a52-7a53-4b59-9a57-1b2b3c4d5e6f';
const guest = (state: VmState, stateReason: string) =>
  Vm.fromPartial({ id: UUID_1, name: 'g1', state, stateReason, vcpus: 1, memoryMib: 64, maxMemoryMib: 64 });

const driverOver = (link: LibvirtLink, options: Partial<LibvirtDriverOptions> = {}) =>
  new LibvirtDriver({
    uri: 'qemu:///scripted',
    resyncIntervalMs: 60_000,
    log: createLogger('silent'),
    connect: async () => link,
    ...options,
  });

async function scriptedDriver(listed: Vm[], recheckDelaysMs?: number[], resyncIntervalMs = 60_000) {
  const scripted = scriptedLink(listed);
  const recorded = recordingSink();
  const driver = driverOver(scripted.link, { recheckDelaysMs, resyncIntervalMs });
  await driver.start(recorded.sink);
  return { driver, ...scripted, ...recorded };
}

const describeChange = (change: StateChange['change']) => {
  if (change?.$case === 'vmUpdated') return { updated: change.value.name, state: change.value.state };
  if (change?.$case === 'vmRemoved') return { removed: change.value.name, reason: change.value.reason };
  return change;
};

/**
 * A scripted driver that reports into a real journal. `changes()`: the journal's entries after the first
 * listing; `listingsReported()`: listings that reached the journal so far.
 */
async function journaledDriver(listed: Vm[], resyncIntervalMs = 60_000) {
  const scripted = scriptedLink(listed);
  const { store, previous } = await CursorStore.open(join(tempDir('lv-'), 'cursor.json'));
  const journal = new Journal({ cursors: store, previous, capacity: 100 });
  const inventories = vi.spyOn(journal, 'inventory');
  const driver = driverOver(scripted.link, { resyncIntervalMs });
  await driver.start(journal);
  const from = journal.head;
  const changes = () => journal.entriesAfter(from, 100).map(({ change }) => describeChange(change));
  return { driver, ...scripted, changes, listingsReported: () => inventories.mock.calls.length };
}

// A reboot changes no record: its notice reads nothing, and ends the wait of a reboot asked for.
it('a reboot notice reads nothing and answers nextReboot for that domain', async () => {
  const { driver, notify, reads, handled } = await scriptedDriver([
    guest(VmState.VM_STATE_RUNNING, 'booted'),
  ]);
  const rebooted = driver.nextReboot(UUID_1.toUpperCase(), { timeoutMs: 10_000 });
  notify({ uuid: UUID_1, migratedAway: false, rebooted: true });
  expect(await rebooted).toBe('rebooted');
  await expect.poll(handled).toBe(true);
  expect(reads).toHaveLength(0);
  await driver.close();
});

// A reboot among dropped events is lost for good (a re-list finds states, not reboots): a wait learns it.
it('events dropped during a wait for a reboot: the wait ends missed', async () => {
  const { driver, notify, script, handled } = await scriptedDriver([
    guest(VmState.VM_STATE_RUNNING, 'booted'),
  ]);
  const rebooted = driver.nextReboot(UUID_1, { timeoutMs: 10_000 });
  script.dropped = 3;
  notify({ uuid: UUID_1, migratedAway: false });
  expect(await rebooted).toBe('missed');
  await expect.poll(handled).toBe(true);
  await driver.close();
});

// A source's events at the switch-over: suspended (read begins), stopped as migrated (the read is still
// out), the read answers "paused", then the domain is gone. The stale "paused" must not make the removal
// an undefine (seen in the post-copy migration test under load).
it('a read that began before "stopped, migrated" answers after it: the removal is still a migration', async () => {
  const { driver, notify, reads, removals, handled } = await scriptedDriver([
    guest(VmState.VM_STATE_RUNNING, 'booted'),
  ]);
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => reads.length).toBe(1);
  notify({ uuid: UUID_1, migratedAway: true });
  await expect.poll(handled).toBe(true);
  reads[0]?.answer(guest(VmState.VM_STATE_PAUSED, 'migration'));
  await expect.poll(() => reads.length).toBe(2);
  reads[1]?.answer(undefined);
  await expect
    .poll(() => removals)
    .toEqual([{ id: UUID_1, reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED }]);
  await driver.close();
});

// Migrated away, then back (or started again): a read after the stop finds it running, so a later
// removal is an undefine.
it('a read that began after "stopped, migrated" and finds the domain running again: a later removal is an undefine', async () => {
  const { driver, notify, reads, removals } = await scriptedDriver([
    guest(VmState.VM_STATE_RUNNING, 'booted'),
  ]);
  notify({ uuid: UUID_1, migratedAway: true });
  await expect.poll(() => reads.length).toBe(1);
  reads[0]?.answer(guest(VmState.VM_STATE_RUNNING, 'migrated'));
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => reads.length).toBe(2);
  reads[1]?.answer(undefined);
  await expect
    .poll(() => removals)
    .toEqual([{ id: UUID_1, reason: VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED }]);
  await driver.close();
});

// libvirt sends no event when a migration's undefine_source removes the source's definition: its last
// events are suspended and stopped, both "migrated" (checked against libvirtd 9.0.0). A read after the stop
// may find the domain still defined; the removal must still be seen (seen in the migration test under load).
it('"stopped, migrated" and the read finds it still defined: read again without an event, the removal is a migration', async () => {
  const { driver, notify, reads, removals } = await scriptedDriver(
    [guest(VmState.VM_STATE_RUNNING, 'booted')],
    [5, 5, 5],
  );
  notify({ uuid: UUID_1, migratedAway: true });
  await expect.poll(() => reads.length).toBe(1);
  reads[0]?.answer(guest(VmState.VM_STATE_SHUT_OFF, 'migrated'));
  await expect.poll(() => reads.length).toBe(2);
  reads[1]?.answer(guest(VmState.VM_STATE_SHUT_OFF, 'migrated'));
  await expect.poll(() => reads.length).toBe(3);
  reads[2]?.answer(undefined);
  await expect
    .poll(() => removals)
    .toEqual([{ id: UUID_1, reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED }]);
  await driver.close();
});

// Without undefine_source the source keeps its definition, shut off: the reads again stop after the last
// delay, and the next read is an event's.
it('"stopped, migrated" and the definition is kept: as many reads again as delays, no removal', async () => {
  const { driver, notify, reads, removals } = await scriptedDriver(
    [guest(VmState.VM_STATE_RUNNING, 'booted')],
    [5, 5],
  );
  notify({ uuid: UUID_1, migratedAway: true });
  for (let read = 0; read < 3; read++) {
    await expect.poll(() => reads.length).toBe(read + 1);
    reads[read]?.answer(guest(VmState.VM_STATE_SHUT_OFF, 'migrated'));
  }
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => reads.length).toBe(4);
  expect(reads.map((r) => r.uuid)).toEqual([UUID_1, UUID_1, UUID_1, UUID_1]);
  reads[3]?.answer(guest(VmState.VM_STATE_SHUT_OFF, 'migrated'));
  expect(removals).toEqual([]);
  await driver.close();
});

// An incoming migration holds the domain's job lock to its very end, after the event that says the domain
// runs here: that event's read gets no disk capacity (statistics read with NOWAIT). Read again until it
// has one, and again after the next event.
it('a running domain read with a disk of unknown capacity is read again until it has one', async () => {
  const { driver, notify, reads } = await scriptedDriver([], [5, 5, 5]);
  const withCapacity = (capacityBytes: number) =>
    Vm.fromPartial({
      ...guest(VmState.VM_STATE_RUNNING, 'migrated'),
      disks: [{ target: 'vda', path: '/var/lib/libvirt/images/g1.qcow2', format: 'qcow2', capacityBytes }],
    });
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => reads.length).toBe(1);
  reads[0]?.answer(withCapacity(0));
  await expect.poll(() => reads.length).toBe(2);
  reads[1]?.answer(withCapacity(0));
  await expect.poll(() => reads.length).toBe(3);
  reads[2]?.answer(withCapacity(32 << 20));
  // Known: no more reads without an event. A shut-off domain's capacities are its images': none either.
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => reads.length).toBe(4);
  reads[3]?.answer(Vm.fromPartial({ ...withCapacity(0), state: VmState.VM_STATE_SHUT_OFF }));
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => reads.length).toBe(5);
  // Unknown at every read: as many reads again as delays, counted from the event.
  for (let read = 4; read < 8; read++) {
    await expect.poll(() => reads.length).toBe(read + 1);
    reads[read]?.answer(withCapacity(0));
  }
  // The next read is the next event's.
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => reads.length).toBe(9);
  expect(reads.every((r) => r.uuid === UUID_1)).toBe(true);
  await driver.close();
});

// Should the reads again all come too early, the next re-listing still reports the removal as a
// migration (the journal's inventory alone would call it an undefine).
it('"stopped, migrated", still defined at every read, then missing from a re-listing: removed as a migration', async () => {
  const listed = [guest(VmState.VM_STATE_RUNNING, 'booted')];
  const { driver, notify, reads, removals } = await scriptedDriver(listed, [], 20);
  notify({ uuid: UUID_1, migratedAway: true });
  await expect.poll(() => reads.length).toBe(1);
  reads[0]?.answer(guest(VmState.VM_STATE_SHUT_OFF, 'migrated'));
  listed.length = 0;
  await expect
    .poll(() => removals)
    .toEqual([{ id: UUID_1, reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED }]);
  await driver.close();
});

const UUID_2 = '0b5d7e2c-3f41-4a8e-9c6d-2e7f8a9b0c1d';
const other = (state: VmState) =>
  Vm.fromPartial({
    id: UUID_2,
    name: 'g2',
    state,
    stateReason: 'booted',
    vcpus: 1,
    memoryMib: 64,
    maxMemoryMib: 64,
  });
const { VM_STATE_RUNNING: RUNNING, VM_STATE_SHUT_OFF: SHUT_OFF } = VmState;
const MIGRATED = VmRemovalReason.VM_REMOVAL_REASON_MIGRATED;

// A re-listing finds the domain running; before it ends, the domain stops as migrated and its read finds it
// gone. The journal must say "removed, migrated" once: not that, then running again (the older listing),
// then removed as an undefine (the read again after the listing), which the controller may take for a conflict.
it('a listing older than a read that found a domain gone does not bring it back', async () => {
  const { driver, notify, reads, script, listings, changes, listingsReported } = await journaledDriver(
    [guest(RUNNING, 'booted')],
    5,
  );
  script.holdListings = true;
  await expect.poll(() => listings.length).toBe(1);
  notify({ uuid: UUID_1, migratedAway: true });
  await expect.poll(() => reads.length).toBe(1);
  reads[0]?.answer(undefined);
  await expect.poll(changes).toEqual([{ removed: 'g1', reason: MIGRATED }]);
  listings[0]?.([guest(RUNNING, 'booted')]);
  await expect.poll(listingsReported).toBe(2);
  for (const read of reads.slice(1)) read.answer(undefined);
  await expect.poll(changes).toEqual([{ removed: 'g1', reason: MIGRATED }]);
  await driver.close();
});

// A domain defined while a re-listing runs, after the listing's view of the host: its read reports it, and
// the listing, which does not have it, must not remove it until the next read brings it back.
it('a listing older than a read that found a new domain does not remove it', async () => {
  const { driver, notify, reads, script, listings, changes, listingsReported } = await journaledDriver(
    [guest(RUNNING, 'booted')],
    5,
  );
  script.holdListings = true;
  await expect.poll(() => listings.length).toBe(1);
  notify({ uuid: UUID_2, migratedAway: false });
  await expect.poll(() => reads.length).toBe(1);
  reads[0]?.answer(other(SHUT_OFF));
  await expect.poll(changes).toEqual([{ updated: 'g2', state: SHUT_OFF }]);
  listings[0]?.([guest(RUNNING, 'booted')]);
  await expect.poll(listingsReported).toBe(2);
  for (const read of reads.slice(1)) read.answer(other(SHUT_OFF));
  await expect.poll(changes).toEqual([{ updated: 'g2', state: SHUT_OFF }]);
  await driver.close();
});

// No event for g2 during the listing this time: its event came before it, and its read, under way when the
// listing began, found it shut off. The listing's "running" may be older and must not win; nor over g1's
// read again, which began after the listing did.
it('a listing does not override a read under way when it began, nor one that began after it', async () => {
  const { driver, notify, reads, script, listings, changes, listingsReported } = await journaledDriver([
    guest(RUNNING, 'booted'),
    other(RUNNING),
  ]);
  script.holdListings = true;
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => reads.length).toBe(1);
  notify({ uuid: UUID_2, migratedAway: false });
  // Dropped events start a listing; the notice that tells is g1's, already read.
  script.dropped = 1;
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => listings.length).toBe(1);
  reads[0]?.answer(guest(RUNNING, 'booted'));
  await expect.poll(() => reads.length).toBe(2);
  expect(reads[1]?.uuid).toBe(UUID_2);
  reads[1]?.answer(other(SHUT_OFF));
  await expect.poll(changes).toEqual([{ updated: 'g2', state: SHUT_OFF }]);
  listings[0]?.([guest(RUNNING, 'booted'), other(RUNNING)]);
  await expect.poll(listingsReported).toBe(2);
  for (const read of reads.slice(2))
    read.answer(read.uuid === UUID_2 ? other(SHUT_OFF) : guest(RUNNING, 'booted'));
  await expect.poll(changes).toEqual([{ updated: 'g2', state: SHUT_OFF }]);
  await driver.close();
});

// The first listing runs before the notices are read: events dropped meanwhile may be newer than what it
// found, so another listing follows.
it('events dropped during the first listing: the host is listed again', async () => {
  const { link, notify, script, listings } = scriptedLink([guest(RUNNING, 'booted')]);
  script.holdListings = true;
  const driver = driverOver(link);
  const started = driver.start(recordingSink().sink);
  await expect.poll(() => listings.length).toBe(1);
  script.dropped = 1;
  listings[0]?.([guest(RUNNING, 'booted')]);
  await started;
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => listings.length).toBe(2);
  await driver.close();
});

// A listing that runs when the drop is seen may have begun before the dropped events: another follows it.
it('events dropped while a listing runs: the host is listed again after it', async () => {
  const { driver, notify, handled, script, listings } = await scriptedDriver([guest(RUNNING, 'booted')]);
  script.holdListings = true;
  script.dropped = 1;
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(() => listings.length).toBe(1);
  script.dropped = 2;
  notify({ uuid: UUID_1, migratedAway: false });
  await expect.poll(handled).toBe(true);
  listings[0]?.([guest(RUNNING, 'booted')]);
  await expect.poll(() => listings.length).toBe(2);
  await driver.close();
});
