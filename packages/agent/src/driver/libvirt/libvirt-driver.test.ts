import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { HostInfo, Vm, VmRemovalReason, VmState } from '@cockpit/proto';
import { expect, it } from 'vitest';
import { tempDir } from '../../../test/support/temp-dir.ts';
import { CursorStore } from '../../journal/cursor-store.ts';
import { Journal } from '../../journal/journal.ts';
import { createLogger } from '../../log/logger.ts';
import type { DriverSink } from '../driver.ts';
import { isDriverError } from '../driver-error.ts';
import { connectLink } from './connect-link.ts';
import { LibvirtDriver } from './libvirt-driver.ts';
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

/** A link to no libvirtd: the test pushes the notices and answers each read. */
function scriptedLink(listed: Vm[]) {
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
        dropped: 0,
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
    listVms: async () => listed,
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
  return { link, notify, reads, handled };
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

async function scriptedDriver(listed: Vm[], recheckDelaysMs?: number[], resyncIntervalMs = 60_000) {
  const scripted = scriptedLink(listed);
  const recorded = recordingSink();
  const driver = new LibvirtDriver({
    uri: 'qemu:///scripted',
    resyncIntervalMs,
    log: createLogger('silent'),
    connect: async () => scripted.link,
    recheckDelaysMs,
  });
  await driver.start(recorded.sink);
  return { driver, ...scripted, ...recorded };
}

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
