import { type HostInfo, type Vm, VmState } from '@cockpit/proto';
import { afterEach, describe, expect, it } from 'vitest';
import type { DriverSink } from '../driver.ts';
import { isDriverError } from '../driver-error.ts';
import { SharedTicker } from './shared-ticker.ts';
import { SimulatedDriver, type SimulatedDriverOptions } from './simulated-driver.ts';

class RecordingSink implements DriverSink {
  readonly vms = new Map<string, Vm>();
  readonly seen: Vm[] = [];
  host_: HostInfo | undefined;
  vm(vm: Vm) {
    this.vms.set(vm.id, vm);
    this.seen.push(vm);
  }
  vmRemoved(id: string) {
    this.vms.delete(id);
  }
  inventory(vms: readonly Vm[]) {
    for (const vm of vms) this.vm(vm);
  }
  host(info: HostInfo) {
    this.host_ = info;
  }
}

const drivers: SimulatedDriver[] = [];
const make = (options: Partial<SimulatedDriverOptions> = {}) => {
  const driver = new SimulatedDriver({
    hostname: 'node-01',
    seed: '1',
    vmCount: 20,
    changesPerMinute: 0,
    crashes: false,
    opDelayMs: 5,
    ticker: new SharedTicker(20),
    ...options,
  });
  drivers.push(driver);
  return driver;
};
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.close()));
});

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('SimulatedDriver', () => {
  it('is deterministic per seed and hostname, and hosts of one seed get distinct ids', async () => {
    const a = await make().listVms();
    const b = await make().listVms();
    const other = await make({ hostname: 'node-02' }).listVms();
    expect(a).toEqual(b);
    expect(a).toHaveLength(20);
    expect(new Set(a.map((v) => v.id)).size).toBe(20);
    expect(other.some((v) => a.some((w) => w.id === v.id))).toBe(false);
    expect(a.filter((v) => v.state === VmState.VM_STATE_RUNNING).length).toBeGreaterThan(8);
  });

  it('names its VMs uniquely on the host, and the demo’s two hosts share no name (so each VM can migrate)', async () => {
    const names = (await make({ vmCount: 3000 }).listVms()).map((v) => v.name);
    expect(new Set(names).size).toBe(3000);
    expect(names.every((n) => /^[a-z]+-[0-9a-f]{4}$/.test(n))).toBe(true);
    const demo = (hostname: string) => make({ hostname, seed: 'demo', vmCount: 5 }).listVms();
    const one = (await demo('vapor-node-01.corp.awan.io')).map((v) => v.name);
    const two = (await demo('vapor-node-02.corp.awan.io')).map((v) => v.name);
    expect(one.filter((n) => two.includes(n))).toEqual([]);
  });

  it('reports its host and first listing on start; says it is simulated', async () => {
    const driver = make();
    const sink = new RecordingSink();
    await driver.start(sink);
    expect(sink.vms.size).toBe(20);
    expect(sink.host_?.hypervisor).toContain('simulated');
    expect(driver.hostInfo()).toEqual(sink.host_);
  });

  it('power operations move VMs as libvirt would, graceful shutdown through `shutdown`', async () => {
    const driver = make({ opDelayMs: 1 });
    const sink = new RecordingSink();
    await driver.start(sink);
    const vm = driver.define({ name: 'g1' });
    await driver.power(vm.id, 'start');
    expect(sink.vms.get(vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING, stateReason: 'booted' });
    await driver.power(vm.id, 'suspend');
    expect(sink.vms.get(vm.id)?.state).toBe(VmState.VM_STATE_PAUSED);
    await driver.power(vm.id, 'resume');
    expect(sink.vms.get(vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING, stateReason: 'unpaused' });
    await driver.power(vm.id, 'shutdown');
    expect(sink.vms.get(vm.id)?.state).toBe(VmState.VM_STATE_SHUTDOWN);
    await expect.poll(() => sink.vms.get(vm.id)?.state, { timeout: 10_000 }).toBe(VmState.VM_STATE_SHUT_OFF);
    expect(sink.vms.get(vm.id)?.stateReason).toBe('shutdown');
  });

  it('refuses with libvirt codes and words; an unknown VM is vm_not_found', async () => {
    const driver = make({ opDelayMs: 1 });
    await driver.start(new RecordingSink());
    const vm = driver.define({ name: 'g1' });
    const notRunning = await errorOf(driver.power(vm.id, 'shutdown'));
    expect(isDriverError(notRunning) && notRunning.code).toBe('OPERATION_INVALID');
    expect((notRunning as Error).message).toBe('Requested operation is not valid: domain is not running');
    await driver.power(vm.id, 'start');
    const running = await errorOf(driver.power(vm.id, 'start'));
    expect(isDriverError(running) && running.code).toBe('OPERATION_INVALID');
    const missing = await errorOf(driver.power('00000000-0000-4000-8000-000000000000', 'start'));
    expect(isDriverError(missing) && missing.code).toBe('vm_not_found');
  });

  it('makes random changes at about the configured rate, from one shared ticker', async () => {
    const ticker = new SharedTicker(20);
    const driver = make({ changesPerMinute: 6000, ticker });
    const sink = new RecordingSink();
    await driver.start(sink);
    const initial = sink.seen.length;
    expect(ticker.size).toBe(1);
    await expect.poll(() => sink.seen.length - initial, { timeout: 10_000 }).toBeGreaterThan(20);
    await driver.close();
    expect(ticker.size).toBe(0);
  });

  it('a thousand simulated hosts share one timer', async () => {
    const ticker = new SharedTicker(100);
    const many = Array.from({ length: 1000 }, (_, i) => make({ hostname: `n-${i}`, vmCount: 50, ticker }));
    await Promise.all(many.map((d) => d.start(new RecordingSink())));
    expect(ticker.size).toBe(1000);
    await Promise.all(many.map((d) => d.close()));
    expect(ticker.size).toBe(0);
  });
});
