import { hostValue, VmState, vmValue } from '@cockpit/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { RateTracker } from '../../metrics/rate-tracker.ts';
import { SharedTicker } from './shared-ticker.ts';
import { SimulatedDriver } from './simulated-driver.ts';

// The simulated driver's counters, through the same rate rules as libvirt's: plausible, deterministic,
// resets when a VM restarts.

const T0 = Date.UTC(2026, 0, 1, 9);
const drivers: SimulatedDriver[] = [];
function make(clock: { t: number }, seed = '1') {
  const driver = new SimulatedDriver({
    hostname: 'vapor-node-01.corp.awan.io',
    seed,
    vmCount: 50,
    changesPerMinute: 0,
    crashes: false,
    opDelayMs: 0,
    ticker: new SharedTicker(1_000),
    now: () => clock.t,
  });
  drivers.push(driver);
  return driver;
}

afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.close()));
});

describe('simulated counters', () => {
  it('the same seed and reading times give the same numbers; another seed others', async () => {
    const clock = { t: T0 };
    const a = make(clock);
    const b = make(clock);
    const c = make(clock, '2');
    for (let i = 0; i < 3; i++) {
      clock.t += 10_000;
      const [ra, rb, rc] = await Promise.all([a.readCounters(), b.readCounters(), c.readCounters()]);
      expect(ra).toEqual(rb);
      expect(ra.vms.map((v) => v.cpuTimeNs)).not.toEqual(rc.vms.map((v) => v.cpuTimeNs));
    }
  });

  it('only VMs whose QEMU would run; plausible rates for each, and the host', async () => {
    const clock = { t: T0 };
    const driver = make(clock);
    const vms = await driver.listVms();
    const active = vms.filter((v) => v.state !== VmState.VM_STATE_SHUT_OFF);
    const running = vms.filter((v) => v.state === VmState.VM_STATE_RUNNING);
    expect(running.length).toBeGreaterThan(20);
    const tracker = new RateTracker();
    tracker.sample(await driver.readCounters(), T0, 30_000);
    clock.t += 10_000;
    const reading = await driver.readCounters();
    expect(reading.vms.map((v) => v.id).sort()).toEqual(active.map((v) => v.id).sort());
    const { host, vms: samples } = tracker.sample(reading, T0 + 10_000, 30_000);
    for (const s of samples) {
      const cpu = vmValue(s, 'cpuPercent') ?? -1;
      const isRunning = running.some((v) => v.id === s.vmId);
      if (isRunning) expect(cpu).toBeGreaterThan(0);
      else expect(cpu).toBe(0); // paused: measured, and nothing moved
      expect(cpu).toBeLessThanOrEqual(100);
      expect(vmValue(s, 'diskReadBps')).toBeGreaterThanOrEqual(0);
      expect(vmValue(s, 'diskReadBps')).toBeLessThan(100 * 1024 ** 2);
      expect(vmValue(s, 'netRxPps')).toBeGreaterThanOrEqual(0);
      expect(vmValue(s, 'memoryUsedBytes')).toBeLessThanOrEqual(vmValue(s, 'memoryCurrentBytes') ?? 0);
      expect(s.intervalMs).toBe(10_000);
    }
    expect(hostValue(host, 'cpuPercent')).toBeGreaterThan(0);
    expect(hostValue(host, 'cpuPercent')).toBeLessThanOrEqual(100);
    expect(host.memoryUsedBytes).toBeLessThanOrEqual(host.memoryTotalBytes);
  });

  it('load follows a daily wave: the same VM is busier at its peak than twelve hours later', async () => {
    const clock = { t: T0 };
    const driver = make(clock);
    const cpuOver = async (start: number) => {
      const tracker = new RateTracker();
      clock.t = start;
      tracker.sample(await driver.readCounters(), start, 30_000);
      clock.t = start + 10_000;
      return tracker.sample(await driver.readCounters(), start + 10_000, 30_000).vms.map((s) => s.cpuPercent);
    };
    const hours = Array.from({ length: 24 }, (_, h) => T0 + h * 3_600_000);
    const series: number[][] = [];
    for (const h of hours) series.push(await cpuOver(h));
    // For each VM, its busiest and quietest hour differ clearly (not just noise).
    const first = series[0] ?? [];
    const spreads = first.map((_, i) => {
      const values = series.map((s) => s[i] ?? 0);
      return Math.max(...values) - Math.min(...values);
    });
    expect(spreads.filter((d) => d > 5).length).toBeGreaterThan(spreads.length / 2);
  });

  it('a VM destroyed and started again counts from zero in a new life: no rate across the restart', async () => {
    const clock = { t: T0 };
    const driver = make(clock);
    await driver.start({ vm: () => {}, vmRemoved: () => {}, inventory: () => {}, host: () => {} });
    const vm = (await driver.listVms()).find((v) => v.state === VmState.VM_STATE_RUNNING);
    if (vm === undefined) throw new Error('no running VM');
    const tracker = new RateTracker();
    tracker.sample(await driver.readCounters(), T0, 30_000);
    clock.t += 10_000;
    tracker.sample(await driver.readCounters(), T0 + 10_000, 30_000);
    await driver.power(vm.id, 'destroy');
    await driver.power(vm.id, 'start');
    clock.t += 10_000;
    const reading = await driver.readCounters();
    const after = tracker.sample(reading, T0 + 20_000, 30_000).vms.find((s) => s.vmId === vm.id);
    expect(after && vmValue(after, 'cpuPercent')).toBeUndefined();
    expect(reading.vms.find((v) => v.id === vm.id)?.cpuTimeNs).toBe(0);
    clock.t += 10_000;
    const next = tracker
      .sample(await driver.readCounters(), T0 + 30_000, 30_000)
      .vms.find((s) => s.vmId === vm.id);
    expect(next && vmValue(next, 'cpuPercent')).toBeGreaterThan(0);
  });
});
