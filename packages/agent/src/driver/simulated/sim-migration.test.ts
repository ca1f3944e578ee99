import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type HostInfo, type MigrationOptions, type Vm, type VmRemovalReason, VmState } from '@cockpit/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { closedPort } from '../../../test/support/closed-port.ts';
import { describeChange, migrationOptions } from '../../../test/support/migration-steps.ts';
import type { DriverSink } from '../driver.ts';
import type { MigrationJob } from '../migration-driver.ts';
import { SharedTicker } from './shared-ticker.ts';
import { SimulatedDriver, type SimulatedDriverOptions } from './simulated-driver.ts';

// Simulated live migration between two driver instances that reach each other only through their
// advertised URIs, over real loopback TCP (and, for the killed destination, a host in another process).

/** What a host's state stream said about each VM, in order, as the agent suites write it. */
class HistorySink implements DriverSink {
  readonly history = new Map<string, string[]>();
  vm(vm: Vm) {
    this.push(vm.id, describeChange({ $case: 'vmUpdated', value: vm }));
  }
  vmRemoved(id: string, name: string, reason: VmRemovalReason) {
    this.push(id, describeChange({ $case: 'vmRemoved', value: { id, name, reason } }));
  }
  inventory() {}
  host(_info: HostInfo) {}
  of(id: string): string[] {
    return this.history.get(id) ?? [];
  }
  private push(id: string, entry: string) {
    this.history.set(id, [...this.of(id), entry]);
  }
}

interface Host {
  driver: SimulatedDriver;
  sink: HistorySink;
  uri: string;
}

const ticker = new SharedTicker(20);
const open: SimulatedDriver[] = [];
const children: Array<ReturnType<typeof spawn>> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

async function host(
  name: string,
  migrationUri = 'sim+tcp://127.0.0.1:0',
  more: Partial<SimulatedDriverOptions> = {},
): Promise<Host> {
  const driver = new SimulatedDriver({
    hostname: `${name}-${randomUUID().slice(0, 6)}`,
    seed: 'sim-migration',
    vmCount: 0,
    changesPerMinute: 0,
    crashes: false,
    opDelayMs: 1,
    ticker,
    migrationUri,
    ...more,
  });
  open.push(driver);
  const sink = new HistorySink();
  await driver.start(sink);
  return { driver, sink, uri: driver.migration.advertisedUri() };
}

async function runningVm(on: Host, memoryMib = 64, vm: Partial<Vm> = {}): Promise<Vm> {
  const defined = on.driver.define({ name: `vm-${randomUUID().slice(0, 6)}`, memoryMib, ...vm });
  await on.driver.power(defined.id, 'start');
  return defined;
}

const stateOn = async (on: Host, vmId: string) => (await on.driver.listVms()).find((v) => v.id === vmId);

function migrate(from: Host, to: string, vm: Vm, options: Partial<MigrationOptions> = {}) {
  return from.driver.migration.migrate({
    migrationId: randomUUID(),
    vmId: vm.id,
    connectUri: to,
    migrateUri: '',
    options: migrationOptions(options),
    destinationCreatedImages: [],
  });
}

/** Progress samples of `job` every 30 ms until it settles. */
async function sampled(job: MigrationJob) {
  const samples = [];
  let settled = false;
  const end = job.finished.then(
    () => undefined,
    () => undefined,
  );
  void end.then(() => {
    settled = true;
  });
  while (!settled) {
    const p = await job.progress();
    if (p !== undefined) samples.push(p);
    await Promise.race([end, new Promise((r) => setTimeout(r, 30))]);
  }
  return samples;
}

const MIB = 1024 * 1024;

describe('simulated live migration over TCP', () => {
  it('advertises sim+tcp://127.0.0.1:<port>/<host uuid>; without an address it takes none', async () => {
    const a = await host('a');
    expect(a.uri).toBe(`sim+tcp://127.0.0.1:${new URL(a.uri).port}/${a.driver.hostInfo().hostUuid}`);
    expect(Number(new URL(a.uri).port)).toBeGreaterThan(0);
    expect((await host('none', '')).uri).toBe('');
  });

  it('moves a running VM with growing, plausible progress; paused then running on the destination, gone from the source', async () => {
    const [a, b] = [await host('a'), await host('b')];
    const vm = await runningVm(a, 64);
    // 128 MiB/s: about half a second for 64 MiB.
    const job = await migrate(a, b.uri, vm, { bandwidthMibps: 128 });
    expect(await stateOn(b, vm.id)).toMatchObject({
      state: VmState.VM_STATE_PAUSED,
      stateReason: 'migration',
    });
    expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
    const samples = await sampled(job);
    const final = await job.finished;

    expect(samples.length).toBeGreaterThan(5);
    const processed = samples.map((s) => s.dataProcessed);
    expect(processed).toEqual([...processed].sort((x, y) => x - y));
    expect(processed.at(-1)).toBeGreaterThan(processed[0] ?? 0);
    for (const s of samples) {
      expect(s.memoryTotal).toBe(64 * MIB);
      expect(s.memoryBps).toBe(128 * MIB);
      // Never faster than the link: what is sent fits in the time elapsed (one tick of slack).
      expect(s.dataProcessed).toBeLessThanOrEqual(128 * MIB * ((s.elapsedMs + 40) / 1000));
      expect(s.dataTotal).toBe(s.dataProcessed + s.dataRemaining);
    }
    expect(final).toMatchObject({ memoryRemaining: 0, dataRemaining: 0, postCopy: false });
    expect(final?.dataProcessed).toBeGreaterThanOrEqual(64 * MIB);
    expect(final?.downtimeMs).toBeGreaterThan(0);
    expect(final?.elapsedMs).toBeGreaterThanOrEqual(400);

    expect(await stateOn(b, vm.id)).toMatchObject({
      state: VmState.VM_STATE_RUNNING,
      stateReason: 'migrated',
      persistent: true,
    });
    expect(b.sink.of(vm.id)).toEqual(['paused/migration', 'running/migrated persistent']);
    expect(await stateOn(a, vm.id)).toBeUndefined();
    expect(a.sink.of(vm.id).at(-1)).toBe('removed MIGRATED');

    // And back.
    const back = await migrate(b, a.uri, vm);
    await back.finished;
    expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
    expect(await stateOn(b, vm.id)).toBeUndefined();
  });

  it('persistent and undefine_source: kept shut off ("migrated") on the source, transient on the destination', async () => {
    const [a, b] = [await host('a'), await host('b')];
    const kept = await runningVm(a);
    await (await migrate(a, b.uri, kept, { persistent: false, undefineSource: false })).finished;
    expect(await stateOn(a, kept.id)).toMatchObject({
      state: VmState.VM_STATE_SHUT_OFF,
      stateReason: 'migrated',
    });
    expect(await stateOn(b, kept.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING, persistent: false });

    // A transient VM leaves its source whatever undefine_source says.
    const transient = await runningVm(a, 64, { persistent: false });
    await (await migrate(a, b.uri, transient, { persistent: true, undefineSource: false })).finished;
    expect(await stateOn(a, transient.id)).toBeUndefined();
    expect(a.sink.of(transient.id).at(-1)).toBe('removed MIGRATED');
    expect(await stateOn(b, transient.id)).toMatchObject({ persistent: true });

    // Back onto the kept definition: it takes the VM in its place and stays defined.
    await (await migrate(b, a.uri, kept, { persistent: false })).finished;
    expect(await stateOn(a, kept.id)).toMatchObject({
      state: VmState.VM_STATE_RUNNING,
      stateReason: 'migrated',
      persistent: true,
    });
  });

  it('cancel: the source keeps the VM running, the destination drops the incoming domain', async () => {
    const [a, b] = [await host('a'), await host('b')];
    const vm = await runningVm(a, 256);
    const job = await migrate(a, b.uri, vm, { bandwidthMibps: 4 });
    await expect.poll(async () => (await job.progress())?.dataProcessed ?? 0).toBeGreaterThan(0);
    expect(a.driver.migration.busy(vm.id) && b.driver.migration.busy(vm.id)).toBe(true);
    await job.abort();
    await expect(job.finished).rejects.toMatchObject({
      code: 'OPERATION_ABORTED',
      message: 'operation aborted: migration out: canceled by client',
    });
    expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
    // The destination dropped it before the abort returned, as libvirt's abort waits for the finish.
    expect(await stateOn(b, vm.id)).toBeUndefined();
    expect(b.sink.of(vm.id)).toEqual(['paused/migration', 'removed UNDEFINED']);
    expect(a.driver.migration.busy(vm.id) || b.driver.migration.busy(vm.id)).toBe(false);
    await expect(job.abort()).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
  });

  it('a destination killed mid-way (another process, SIGKILL) fails the migration; the VM runs on the source', async () => {
    const a = await host('a');
    const script = fileURLToPath(new URL('../../../test/support/sim-destination.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, `dest-${randomUUID().slice(0, 6)}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const uri = await new Promise<string>((resolve) => lines.once('line', resolve));
    expect(uri).toMatch(/^sim\+tcp:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]{36}$/);

    const vm = await runningVm(a, 256);
    const job = await migrate(a, uri, vm, { bandwidthMibps: 4 });
    await expect.poll(async () => (await job.progress())?.dataProcessed ?? 0).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await expect(job.finished).rejects.toMatchObject({
      code: 'OPERATION_FAILED',
      message: "operation failed: job 'migration out' unexpectedly failed",
    });
    expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
    expect(a.driver.migration.busy(vm.id)).toBe(false);
  });

  it('the source going away mid-way: the destination drops the incoming domain', async () => {
    const [a, b] = [await host('a'), await host('b')];
    const vm = await runningVm(a, 256);
    const job = await migrate(a, b.uri, vm, { bandwidthMibps: 4 });
    await expect.poll(async () => (await job.progress())?.dataProcessed ?? 0).toBeGreaterThan(0);
    await a.driver.close();
    await expect.poll(() => b.sink.of(vm.id)).toEqual(['paused/migration', 'removed UNDEFINED']);
    expect(b.driver.migration.busy(vm.id)).toBe(false);
  });

  it('post-copy: the VM runs on the destination at once, the source pauses, abort is refused', async () => {
    const [a, b] = [await host('a'), await host('b')];
    const vm = await runningVm(a, 64);
    // 1 MiB/s never converges for a guest dirtying 5 % of 64 MiB a second.
    const job = await migrate(a, b.uri, vm, { bandwidthMibps: 1, allowPostCopy: true });
    await job.startPostCopy();
    expect(await stateOn(a, vm.id)).toMatchObject({
      state: VmState.VM_STATE_PAUSED,
      stateReason: 'postcopy',
    });
    await expect.poll(async () => (await stateOn(b, vm.id))?.stateReason).toBe('postcopy');
    await expect(job.abort()).rejects.toMatchObject({
      message: 'Requested operation is not valid: cannot abort migration in post-copy mode',
    });
    expect(await job.finished).toMatchObject({ postCopy: true });
    expect(b.sink.of(vm.id)).toEqual(['paused/migration', 'running/postcopy', 'running/migrated persistent']);
    expect(await stateOn(a, vm.id)).toBeUndefined();
  });

  it('live false: the VM pauses on the source for the copy, then runs on the destination', async () => {
    const [a, b] = [await host('a'), await host('b')];
    const vm = await runningVm(a, 64);
    const job = await migrate(a, b.uri, vm, { live: false, bandwidthMibps: 64 });
    expect(await stateOn(a, vm.id)).toMatchObject({
      state: VmState.VM_STATE_PAUSED,
      stateReason: 'migration',
    });
    await job.finished;
    expect(await stateOn(b, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
  });

  it('refusals in libvirt words: nobody listening, not a simulated URI, the same host, a VM active there, another host at that port', async () => {
    const [a, b] = [await host('a'), await host('b')];
    const vm = await runningVm(a);
    const port = await closedPort();
    await expect(migrate(a, `sim+tcp://127.0.0.1:${port}/${randomUUID()}`, vm)).rejects.toMatchObject({
      code: 'SYSTEM_ERROR',
      message: `unable to connect to server at '127.0.0.1:${port}': Connection refused`,
    });
    await expect(migrate(a, 'qemu+tcp://10.0.0.2/system', vm)).rejects.toMatchObject({
      code: 'NO_CONNECT',
      message: 'no connection driver available for qemu+tcp://10.0.0.2/system',
    });
    await expect(migrate(a, a.uri, vm)).rejects.toMatchObject({
      code: 'INTERNAL_ERROR',
      message: `internal error: Attempt to migrate guest to the same host ${a.driver.hostInfo().hostUuid}`,
    });
    const twin = b.driver.define({ id: vm.id, name: vm.name });
    await b.driver.power(twin.id, 'start');
    await expect(migrate(a, b.uri, vm)).rejects.toMatchObject({
      code: 'OPERATION_FAILED',
      message: `operation failed: domain '${vm.name}' is already active`,
    });
    const elsewhere = b.uri.replace(/[0-9a-f-]{36}$/, randomUUID());
    await expect(migrate(a, elsewhere, vm)).rejects.toMatchObject({ code: 'OPERATION_FAILED' });
    expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
    expect(b.sink.of(vm.id)).toEqual(['shut_off/unknown persistent', 'running/booted persistent']);
    expect(a.driver.migration.busy(vm.id)).toBe(false);
  });

  it('a destination that accepts but never answers: the prepare gives up, as libvirt keepalive would', async () => {
    const a = await host('a', 'sim+tcp://127.0.0.1:0', { migrationReplyTimeoutMs: 300 });
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const vm = await runningVm(a);
      const started = Date.now();
      await expect(migrate(a, `sim+tcp://127.0.0.1:${port}/${randomUUID()}`, vm)).rejects.toMatchObject({
        code: 'INTERNAL_ERROR',
        message: 'internal error: connection closed due to keepalive timeout',
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(a.driver.migration.busy(vm.id)).toBe(false);
      expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
