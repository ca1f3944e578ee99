import { randomBytes, randomUUID } from 'node:crypto';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmSample } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentHandle,
  createLogger,
  DEFAULT_METRICS_CONFIG,
  hostValue,
  startAgent,
  vmValue,
} from '../src/index.ts';
import type { ControllerSession } from './support/controller-session.ts';
import { type LibvirtHost, startLibvirtHost, virsh, waitFor } from './support/harness.ts';
import { promtoolCheck } from './support/promtool.ts';
import { restartLibvirtd } from './support/restart-libvirtd.ts';
import { ScriptedController } from './support/scripted-controller.ts';
import { LogCapture, tempStateDir, testConfig } from './support/test-agent.ts';

// Metrics from a real libvirtd and a real QEMU guest (TCG) on a harness host, through the whole agent to
// the scripted controller: CPU time moves and the sampled CPU % is above 0; a destroy and start of the
// guest yields no negative or spiking rate, and no rate at all for the first sample after it.

const prefix = process.env.LIBVIRT_HOST_NAME_PREFIX ?? 'agent-mx';
let host: LibvirtHost;
let controller: ScriptedController;
let agent: AgentHandle;
let session: ControllerSession;
const log = new LogCapture();
const GUEST = 'mx-guest';
const guestId = randomUUID();

/** A 64 MiB guest with a blank 16 MiB raw disk: SeaBIOS reads its boot sector, finds nothing, waits. */
async function defineGuest(): Promise<void> {
  const disk = join(host.stateDir, `${GUEST}.img`);
  await writeFile(disk, '');
  await truncate(disk, 16 * 1024 * 1024);
  const xml = `<domain type='qemu'>
  <name>${GUEST}</name>
  <uuid>${guestId}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <memballoon model='none'/>
  </devices>
</domain>
`;
  const file = join(host.stateDir, `${GUEST}.xml`);
  await writeFile(file, xml);
  await virsh(host.uri, 'define', file);
}

/** cpu.time as `virsh domstats` reports it, ns. */
async function virshCpuTime(): Promise<number> {
  const out = await virsh(host.uri, 'domstats', '--cpu-total', GUEST);
  const match = /cpu\.time=(\d+)/.exec(out);
  if (match === null) throw new Error(`no cpu.time in ${out}`);
  return Number(match[1]);
}

const guestSamples = (): VmSample[] => session.vmSamples(guestId);

beforeAll(async () => {
  host = await startLibvirtHost({ name: `${prefix}-${randomBytes(3).toString('hex')}` });
  controller = await ScriptedController.start();
  await defineGuest();
  await virsh(host.uri, 'start', GUEST);
  const sessions = controller.nextSession();
  agent = await startAgent({
    config: testConfig(controller.address, await tempStateDir(), {
      driver: 'libvirt',
      libvirtUri: host.uri,
      joinToken: 'tok',
      metrics: { ...DEFAULT_METRICS_CONFIG, listen: { host: '127.0.0.1', port: 0 } },
    }),
    log: createLogger('debug', log.stream),
  });
  session = await sessions;
  await session.welcome({ metricsIntervalMs: 1_000 });
});

afterAll(async () => {
  await agent?.close();
  await controller?.stop();
  await host?.stop();
});

describe('metrics of a real QEMU guest', () => {
  it("its CPU time moves, and the sampled CPU % is above 0; disk, memory and host figures are libvirt's", async () => {
    const before = await virshCpuTime();
    const busy = await waitFor(() => guestSamples().find((s) => (vmValue(s, 'cpuPercent') ?? 0) > 0), {
      timeoutMs: 30_000,
      what: 'a sample of the guest with CPU above 0',
    });
    expect(await virshCpuTime()).toBeGreaterThan(before);
    expect(vmValue(busy, 'cpuPercent')).toBeLessThanOrEqual(100);
    expect(busy.vcpus).toBe(1);
    expect(busy.intervalMs).toBeGreaterThan(500);
    expect(busy.intervalMs).toBeLessThan(3_000);
    expect(busy.atMs % 1_000).toBe(0);
    expect(vmValue(busy, 'memoryCurrentBytes')).toBe(64 * 1024 * 1024);
    expect(vmValue(busy, 'memoryRssBytes')).toBeGreaterThan(0);
    // One disk (vda), no NIC: measured rates, 0 where nothing moved; no balloon driver: no guest figures.
    expect(vmValue(busy, 'diskReadBps')).toBeGreaterThanOrEqual(0);
    expect(vmValue(busy, 'netRxBps')).toBe(0);
    expect(vmValue(busy, 'memoryAvailableBytes')).toBeUndefined();
    const hostSample = session.hostSamples().at(-1);
    expect(hostSample && hostValue(hostSample, 'cpuPercent')).toBeGreaterThan(0);
    expect(hostSample && hostValue(hostSample, 'memoryTotalBytes')).toBeGreaterThan(0);
  });

  it('destroy and start: no rate for the first sample after it, never a negative or spiking one', async () => {
    await waitFor(() => (guestSamples().length >= 2 ? true : undefined), {
      what: 'two samples of the guest',
    });
    await virsh(host.uri, 'destroy', GUEST);
    const destroyedAt = Date.now();
    await virsh(host.uri, 'start', GUEST);
    const startedAt = Date.now();
    const after = await waitFor(
      () => {
        const later = guestSamples().filter((s) => s.atMs > startedAt);
        return later.filter((s) => vmValue(s, 'cpuPercent') !== undefined).length >= 3 ? later : undefined;
      },
      { timeoutMs: 30_000, what: 'three samples with CPU after the restart' },
    );
    const firstAfter = guestSamples().find((s) => s.atMs > destroyedAt);
    expect(firstAfter && vmValue(firstAfter, 'cpuPercent')).toBeUndefined();
    expect(firstAfter?.intervalMs).toBe(0);
    expect(after.length).toBeGreaterThanOrEqual(3);

    // Over the whole run: every rate with a value is within what the guest can do.
    for (const s of guestSamples()) {
      const cpu = vmValue(s, 'cpuPercent');
      if (cpu !== undefined) expect(cpu).toBeGreaterThanOrEqual(0);
      if (cpu !== undefined) expect(cpu).toBeLessThanOrEqual(100);
      for (const field of ['diskReadBps', 'diskWriteBps', 'diskReadIops', 'diskWriteIops'] as const) {
        const value = vmValue(s, field);
        if (value === undefined) continue;
        expect(value).toBeGreaterThanOrEqual(0);
        // The disk holds 16 MiB: reading more than that in a second would be a counter reset taken as I/O.
        if (field === 'diskReadBps') expect(value).toBeLessThan(16 * 1024 * 1024);
      }
    }
    // Slots only grow.
    const slots = guestSamples().map((s) => s.atMs);
    expect(slots.every((t, i) => i === 0 || t > (slots[i - 1] ?? 0))).toBe(true);
  });

  it('libvirtd restarts under the sampler: readings fail meanwhile, then the rates go on (same domain id)', async () => {
    const id = (await virsh(host.uri, 'domid', GUEST)).trim();
    const failing = () =>
      log.messages('cannot read performance counters: no samples until the hypervisor answers again');
    const recovered = () => log.messages('performance counters readable again');
    const failedBefore = failing().length;
    await restartLibvirtd(host, () =>
      waitFor(() => (failing().length > failedBefore ? true : undefined), {
        timeoutMs: 20_000,
        what: 'a failed reading while libvirtd is down',
      }).then(() => undefined),
    );
    const back = await waitFor(() => recovered().at(-1), { timeoutMs: 60_000, what: 'readings to resume' });
    const backAt = Date.parse(String(back.time));
    expect((await virsh(host.uri, 'domid', GUEST)).trim()).toBe(id);
    const resumed = await waitFor(
      () => {
        const later = guestSamples().filter((s) => s.atMs > backAt && vmValue(s, 'cpuPercent') !== undefined);
        return later.length >= 2 ? later : undefined;
      },
      { timeoutMs: 30_000, what: 'rates of the guest after libvirtd came back' },
    );
    for (const s of resumed) expect(vmValue(s, 'cpuPercent')).toBeLessThanOrEqual(100);
    for (const s of guestSamples()) expect(vmValue(s, 'cpuPercent') ?? 0).toBeGreaterThanOrEqual(0);
  });

  it("the agent's /metrics with real libvirt figures passes promtool", async () => {
    const url = agent.metricsUrl ?? '';
    const text = await waitFor(
      async () => {
        const body = await (await fetch(url)).text();
        return body.includes(`cockpit_vm_cpu_usage_ratio{vm_id="${guestId}",vm_name="${GUEST}"}`)
          ? body
          : undefined;
      },
      { what: 'the guest in /metrics' },
    );
    const check = await promtoolCheck(text);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
    expect(text).toContain('cockpit_agent_libvirt_up 1\n');
    expect(text).toContain(
      `cockpit_vm_memory_current_bytes{vm_id="${guestId}",vm_name="${GUEST}"} 67108864\n`,
    );
  });
});
