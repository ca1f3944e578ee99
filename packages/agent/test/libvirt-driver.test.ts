import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VmRemovalReason, VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LibvirtDriver } from '../src/driver/libvirt/libvirt-driver.ts';
import type { Journal } from '../src/journal/journal.ts';
import { guestXml, type LibvirtHost, startLibvirtHost, virsh, virshDominfo } from './support/harness.ts';
import { entriesOf, recordOf } from './support/journal-probe.ts';
import { probedLibvirtDriver } from './support/probed-libvirt-driver.ts';
import { restartLibvirtd } from './support/restart-libvirtd.ts';
import { LogCapture } from './support/test-agent.ts';

// The libvirt driver against a real libvirtd with real QEMU guests (deploy/dev/libvirt-host; diskless
// 64 MiB type='qemu' guests): changes made with virsh become exactly the right journal entries.

let host: LibvirtHost;
let driver: LibvirtDriver;
let journal: Journal;
let start: number;
const log = new LogCapture();

beforeAll(async () => {
  host = await startLibvirtHost({ name: `agent-lv-${randomBytes(3).toString('hex')}` });
  ({ driver, journal, start } = await probedLibvirtDriver(host.uri, log, 1_000));
});

afterAll(async () => {
  await driver?.close();
  await host?.stop();
});

async function define(name: string, memoryMiB = 64): Promise<string> {
  const uuid = randomUUID();
  const file = join(host.stateDir, `${name}.xml`);
  await writeFile(file, guestXml({ name, uuid, memoryMiB }));
  await virsh(host.uri, 'define', file);
  return uuid;
}

const listings = () => log.messages('listed every domain').length;

describe('libvirt driver (real libvirtd, real QEMU guests)', () => {
  it('reports the host as libvirt describes it', async () => {
    const info = driver.hostInfo();
    expect(info.hypervisor).toMatch(/^QEMU \d+\.\d+\.\d+$/);
    expect(info.libvirtVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.hostUuid).toBe(host.hostUuid);
    expect(info.cpus).toBeGreaterThan(0);
    expect(info.memoryMib).toBeGreaterThan(0);
  });

  it('define, start, suspend, resume, destroy, undefine with virsh: one journal entry each, in order', async () => {
    const id = await define('lv-life');
    // Each change's state and reason. libvirt starts a domain's QEMU paused and resumes it once set up:
    // a read in between (a loaded host) finds it paused, reason starting_up, a true state of the moment
    // that the state events skip. Likewise a destroy passes through "being shut down" (QEMU reports the
    // SIGTERM libvirt sends it as a shutdown). Such entries are left out here.
    type Entry = ReturnType<typeof entriesOf>[number];
    const stateOf = (c: Entry) =>
      c.change?.$case === 'vmUpdated'
        ? [c.change.value.state, c.change.value.stateReason]
        : [c.change?.$case, c.change?.$case === 'vmRemoved' && c.change.value.reason];
    const states = () =>
      entriesOf(journal, start, id)
        .map(stateOf)
        .filter(
          ([state, reason]) =>
            (state !== VmState.VM_STATE_PAUSED || reason !== 'starting_up') &&
            state !== VmState.VM_STATE_SHUTDOWN,
        );
    const wait = (n: number) => expect.poll(states, { timeout: 20_000 }).toHaveLength(n);
    await wait(1);
    await virsh(host.uri, 'start', 'lv-life');
    await wait(2);
    await virsh(host.uri, 'suspend', 'lv-life');
    await wait(3);
    await virsh(host.uri, 'resume', 'lv-life');
    await wait(4);
    await virsh(host.uri, 'destroy', 'lv-life');
    await wait(5);
    await virsh(host.uri, 'undefine', 'lv-life');
    await wait(6);
    expect(states()).toEqual([
      [VmState.VM_STATE_SHUT_OFF, 'unknown'],
      [VmState.VM_STATE_RUNNING, 'booted'],
      [VmState.VM_STATE_PAUSED, 'user'],
      [VmState.VM_STATE_RUNNING, 'unpaused'],
      [VmState.VM_STATE_SHUT_OFF, 'destroyed'],
      ['vmRemoved', VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED],
    ]);
    // Nothing more recorded for it by later re-lists.
    const recorded = entriesOf(journal, start, id).length;
    const before = listings();
    await expect.poll(listings, { timeout: 20_000 }).toBeGreaterThanOrEqual(before + 2);
    expect(entriesOf(journal, start, id)).toHaveLength(recorded);
  });

  it('the record matches virsh dominfo; a change without an event (autostart) arrives by the re-list', async () => {
    const id = await define('lv-info', 96);
    await expect.poll(() => recordOf(journal, id), { timeout: 20_000 }).toBeDefined();
    const info = await virshDominfo(host.uri, 'lv-info');
    const vm = recordOf(journal, id);
    expect(vm).toMatchObject({
      id,
      name: 'lv-info',
      vcpus: Number(info['CPU(s)']),
      memoryMib: Number.parseInt(info['Used memory'] ?? '', 10) / 1024,
      maxMemoryMib: Number.parseInt(info['Max memory'] ?? '', 10) / 1024,
      persistent: info.Persistent === 'yes',
      autostart: info.Autostart === 'enable',
    });
    expect(vm?.memoryMib).toBe(96);
    const head = journal.head;
    await virsh(host.uri, 'autostart', 'lv-info');
    await expect.poll(() => recordOf(journal, id)?.autostart, { timeout: 20_000 }).toBe(true);
    expect(journal.head).toBe(head + 1);
    await virsh(host.uri, 'undefine', 'lv-info');
  });

  it('libvirtd restarts: the driver reconnects and re-lists, and what changed meanwhile shows up', async () => {
    const id = await define('lv-restart');
    await virsh(host.uri, 'start', 'lv-restart');
    await expect.poll(() => recordOf(journal, id)?.state, { timeout: 20_000 }).toBe(VmState.VM_STATE_RUNNING);
    const connects = log.messages('connected to libvirt').length;
    await restartLibvirtd(host, async () => {
      // While libvirtd is down the guest's QEMU dies: no event can tell; only the re-list can.
      const qemuPid = Number(
        (await readFile(join(host.stateDir, 'run/libvirt/qemu/lv-restart.pid'), 'utf8')).trim(),
      );
      process.kill(qemuPid, 'SIGKILL');
    });
    await expect
      .poll(() => log.messages('connected to libvirt').length, { timeout: 30_000 })
      .toBe(connects + 1);
    expect(log.messages('libvirt connection lost').length).toBeGreaterThanOrEqual(1);
    await expect
      .poll(() => recordOf(journal, id)?.state, { timeout: 20_000 })
      .toBe(VmState.VM_STATE_SHUT_OFF);
    expect((await virshDominfo(host.uri, 'lv-restart')).State).toBe('shut off');
    await virsh(host.uri, 'undefine', 'lv-restart');
  });
});
