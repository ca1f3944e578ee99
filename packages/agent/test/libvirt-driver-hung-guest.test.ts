import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LibvirtDriver } from '../src/driver/libvirt/libvirt-driver.ts';
import type { Journal } from '../src/journal/journal.ts';
import { guestXml, type LibvirtHost, startLibvirtHost, virsh } from './support/harness.ts';
import { recordOf } from './support/journal-probe.ts';
import { probedLibvirtDriver } from './support/probed-libvirt-driver.ts';
import { LogCapture } from './support/test-agent.ts';

// A guest whose QEMU stops answering its monitor (stopped with SIGSTOP here; a wedged QEMU in life):
// libvirtd holds the first call that needs that monitor until QEMU answers, so the driver's read of
// that domain hangs until the call's deadline (30 s). The other domains' changes must not wait for it.
// Its own libvirtd: a call of another test's client could be the one that hangs on the monitor.

let host: LibvirtHost;
let driver: LibvirtDriver;
let journal: Journal;
let stoppedPid: number | undefined;
const log = new LogCapture();

beforeAll(async () => {
  host = await startLibvirtHost({ name: `agent-hung-${randomBytes(3).toString('hex')}` });
  // No re-listing during the test: the event-driven reads are what is tested.
  ({ driver, journal } = await probedLibvirtDriver(host.uri, log, 3_600_000));
});

afterAll(async () => {
  if (stoppedPid !== undefined) process.kill(stoppedPid, 'SIGCONT');
  await driver?.close();
  await host?.stop();
});

async function running(name: string): Promise<string> {
  const uuid = randomUUID();
  const file = join(host.stateDir, `${name}.xml`);
  await writeFile(file, guestXml({ name, uuid, memoryMiB: 64 }));
  await virsh(host.uri, 'define', file);
  await virsh(host.uri, 'start', name);
  await expect.poll(() => recordOf(journal, uuid)?.state, { timeout: 20_000 }).toBe(VmState.VM_STATE_RUNNING);
  return uuid;
}

describe('libvirt driver with a guest whose QEMU hangs', () => {
  it("reports the other domains' changes while that domain's read waits on its monitor", async () => {
    const hungId = await running('hung');
    const otherId = await running('other');
    const pidFile = join(host.stateDir, 'run', 'libvirt', 'qemu', 'hung.pid');
    stoppedPid = Number((await readFile(pidFile, 'utf8')).trim());
    process.kill(stoppedPid, 'SIGSTOP');
    // Pinning a vCPU needs no monitor and raises a tunable event: the driver reads the domain, and
    // that read's statistics wait on the monitor of the stopped QEMU.
    await virsh(host.uri, 'vcpupin', 'hung', '0', '0', '--live');
    await virsh(host.uri, 'suspend', 'other');
    await expect
      .poll(() => recordOf(journal, otherId)?.state, { timeout: 15_000 })
      .toBe(VmState.VM_STATE_PAUSED);
    // Still waiting on the stopped QEMU: the change above did not come after that read gave up.
    expect(log.messages('could not read a domain after its event')).toEqual([]);
    process.kill(stoppedPid, 'SIGCONT');
    stoppedPid = undefined;
    await virsh(host.uri, 'suspend', 'hung');
    await expect
      .poll(() => recordOf(journal, hungId)?.state, { timeout: 20_000 })
      .toBe(VmState.VM_STATE_PAUSED);
  }, 60_000);
});
