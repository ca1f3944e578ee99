import { Driver, type HostInfo, type Vm, VmRemovalReason, VmState } from '@cockpit/proto';
import { sleep } from '../../connection/backoff.ts';
import type { CounterReading } from '../../metrics/counters.ts';
import type { DriverSink, HypervisorDriver, PowerOperation, PowerOptions } from '../driver.ts';
import { DriverError, VM_NOT_FOUND } from '../driver-error.ts';
import { RebootNotices, type RebootOutcome } from '../reboot-notices.ts';
import { Prng } from './prng.ts';
import { defaultTicker, type SharedTicker } from './shared-ticker.ts';
import { SimMetrics } from './sim-metrics.ts';
import { SimulatedMigration } from './sim-migration.ts';
import { initialVms, simulatedHost } from './sim-vms.ts';

export interface SimulatedDriverOptions {
  hostname: string;
  /** With the hostname, seeds every random choice: the same seed and hostname give the same host. */
  seed: string;
  vmCount: number;
  /** Random changes (start, shutdown, pause, balloon, …) per minute on this host. */
  changesPerMinute: number;
  /** Whether random changes include guest crashes. */
  crashes: boolean;
  /** How long each power call takes before the hypervisor accepts it. */
  opDelayMs: number;
  ticker?: SharedTicker;
  /**
   * Where this host takes live migrations from other simulated hosts, in this process or another:
   * sim+tcp://<address>:<port>, port 0 for any free one (its URI then says the port it got, see
   * migration.advertisedUri()). Empty or unset: it takes none (it can still migrate VMs away).
   */
  migrationUri?: string;
  /** Migration link speed without a bandwidth limit (default 1 GiB/s). */
  migrationBytesPerSecond?: number;
  /** How long a migration's source waits for each answer of its destination (default 30 s). */
  migrationReplyTimeoutMs?: number;
  /** Wall clock of the simulated performance counters (default Date.now). */
  now?: () => number;
}

const INVALID = 'OPERATION_INVALID';
const notRunning = () => new DriverError(INVALID, 'Requested operation is not valid: domain is not running');

/**
 * An in-memory hypervisor for the demo and scale tests, and it says so (Hello.driver = SIMULATED). VMs
 * move as under libvirt: start takes a moment, a graceful shutdown passes through `shutdown` to
 * `shut_off`, a refused call fails with libvirt's code and words. Random changes come at the configured
 * rate, driven by one ticker shared by every simulated host of the process.
 */
export class SimulatedDriver implements HypervisorDriver {
  readonly kind = Driver.DRIVER_SIMULATED;
  readonly migration: SimulatedMigration;
  private readonly prng: Prng;
  private readonly vms = new Map<string, Vm>();
  private readonly reboots = new RebootNotices();
  private readonly info: HostInfo;
  private readonly due: Array<{ at: number; run: () => void }> = [];
  private sink: DriverSink | undefined;
  private stopTicking: (() => void) | undefined;
  private lastTick = 0;
  private budget = 0;
  private readonly metrics: SimMetrics;

  constructor(private readonly options: SimulatedDriverOptions) {
    this.prng = new Prng(`${options.seed}/${options.hostname}`);
    this.info = simulatedHost(this.prng);
    for (const vm of initialVms(this.prng, options.vmCount)) this.vms.set(vm.id, vm);
    this.migration = new SimulatedMigration({
      listen: options.migrationUri ?? '',
      hostUuid: this.info.hostUuid,
      ticker: options.ticker ?? defaultTicker,
      bytesPerSecond: options.migrationBytesPerSecond ?? 1024 ** 3,
      replyTimeoutMs: options.migrationReplyTimeoutMs,
      vms: {
        get: (id) => this.vms.get(id),
        all: () => this.vms.values(),
        put: (vm) => this.update(vm),
        drop: (id, reason) => {
          const vm = this.vms.get(id);
          if (vm === undefined) return;
          this.vms.delete(id);
          this.sink?.vmRemoved(id, vm.name, reason);
        },
      },
    });
    this.metrics = new SimMetrics(`${options.seed}/${options.hostname}`, this.info, options.now);
  }

  async start(sink: DriverSink): Promise<void> {
    this.sink = sink;
    sink.host(this.info);
    sink.inventory([...this.vms.values()]);
    this.lastTick = Date.now();
    this.stopTicking = (this.options.ticker ?? defaultTicker).add((now) => this.tick(now));
    await this.migration.listen();
  }

  hostInfo(): HostInfo {
    return this.info;
  }

  async listVms(): Promise<Vm[]> {
    return [...this.vms.values()];
  }

  async power(vmId: string, op: PowerOperation, options: PowerOptions = {}): Promise<void> {
    this.require(vmId);
    await sleep(this.options.opDelayMs, options.signal);
    options.signal?.throwIfAborted();
    const vm = this.require(vmId);
    if (this.migration.busy(vm.id)) {
      // What libvirt answers while the migration job holds the domain.
      throw new DriverError(
        'OPERATION_TIMEOUT',
        'Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainMigratePerform3Params)',
      );
    }
    const active = vm.state !== VmState.VM_STATE_SHUT_OFF && vm.state !== VmState.VM_STATE_CRASHED;
    if (op === 'start') {
      if (active)
        throw new DriverError(INVALID, 'Requested operation is not valid: domain is already running');
      this.set(vm.id, VmState.VM_STATE_RUNNING, 'booted');
    } else if (op === 'resume') {
      if (vm.state !== VmState.VM_STATE_PAUSED) {
        throw new DriverError(INVALID, 'Requested operation is not valid: domain is not paused');
      }
      this.set(vm.id, VmState.VM_STATE_RUNNING, 'unpaused');
    } else if (!active) {
      throw notRunning();
    } else if (op === 'shutdown') {
      // A paused guest or one already shutting down ignores the ACPI request, as a real one would.
      if (vm.state === VmState.VM_STATE_RUNNING) this.shutdownGracefully(vm.id);
    } else if (op === 'destroy') {
      this.set(vm.id, VmState.VM_STATE_SHUT_OFF, 'destroyed');
    } else if (op === 'suspend') {
      if (vm.state === VmState.VM_STATE_RUNNING) this.set(vm.id, VmState.VM_STATE_PAUSED, 'user');
    } else if (op === 'reset') {
      this.reboots.rebooted(vm.id);
    } else if (op === 'reboot' && vm.state === VmState.VM_STATE_RUNNING) {
      // The guest answers the ACPI request as the graceful shutdown does, a little sooner.
      this.later(Math.max(250, 4 * this.options.opDelayMs), () => this.reboots.rebooted(vm.id));
    }
    // reboot and reset: the guest restarts in place; libvirt reports a reboot event and the record
    // does not change.
  }

  nextReboot(vmId: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<RebootOutcome> {
    return this.reboots.next(vmId, options);
  }

  /** Defines a VM (shut off unless said otherwise), as `virsh define` would. */
  define(vm: Partial<Vm> & { name: string }): Vm {
    const record: Vm = {
      id: this.prng.uuid(),
      state: VmState.VM_STATE_SHUT_OFF,
      stateReason: 'unknown',
      vcpus: 1,
      memoryMib: 1024,
      maxMemoryMib: vm.memoryMib ?? 1024,
      persistent: true,
      autostart: false,
      disks: [],
      ...vm,
    };
    this.vms.set(record.id, record);
    this.sink?.vm(record);
    return record;
  }

  /** Removes a VM, as `virsh undefine` of a shut-off VM would. */
  undefine(vmId: string): void {
    const vm = this.require(vmId);
    this.vms.delete(vmId);
    this.metrics.stopped(vmId);
    this.sink?.vmRemoved(vmId, vm.name, VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED);
  }

  /** The guest crashes (a kernel panic). */
  crash(vmId: string): void {
    this.set(vmId, VmState.VM_STATE_CRASHED, 'panicked');
  }

  /** Plausible counters of the running VMs, computed now (no timers: cheap for 1,000 hosts × 50 VMs). */
  async readCounters(): Promise<CounterReading> {
    return this.metrics.read(this.vms.values());
  }

  hypervisorConnected(): boolean {
    return true;
  }

  async close(): Promise<void> {
    await this.migration.close();
    this.stopTicking?.();
    this.stopTicking = undefined;
    this.sink = undefined;
  }

  private tick(now: number): void {
    for (let i = this.due.length - 1; i >= 0; i--) {
      const item = this.due[i];
      if (item !== undefined && item.at <= now) {
        this.due.splice(i, 1);
        item.run();
      }
    }
    this.budget += (this.options.changesPerMinute / 60_000) * (now - this.lastTick);
    this.lastTick = now;
    while (this.budget >= 1 && this.vms.size > 0) {
      this.budget -= 1;
      this.randomChange();
    }
  }

  private randomChange(): void {
    const vm = this.prng.pick([...this.vms.values()]);
    const roll = this.prng.next();
    if (this.migration.busy(vm.id)) return;
    if (vm.state === VmState.VM_STATE_SHUT_OFF || vm.state === VmState.VM_STATE_CRASHED) {
      this.later(this.options.opDelayMs, () => this.set(vm.id, VmState.VM_STATE_RUNNING, 'booted'));
    } else if (vm.state === VmState.VM_STATE_PAUSED) {
      this.set(vm.id, VmState.VM_STATE_RUNNING, 'unpaused');
    } else if (vm.state !== VmState.VM_STATE_RUNNING) {
      // shutting down already: let it finish
    } else if (roll < 0.35) {
      this.shutdownGracefully(vm.id);
    } else if (roll < 0.55) {
      this.set(vm.id, VmState.VM_STATE_PAUSED, 'user');
    } else if (roll < 0.8) {
      this.balloon(vm.id);
    } else if (roll < 0.9 || !this.options.crashes) {
      this.set(vm.id, VmState.VM_STATE_SHUT_OFF, 'destroyed');
    } else {
      this.crash(vm.id);
    }
  }

  private shutdownGracefully(vmId: string): void {
    this.set(vmId, VmState.VM_STATE_SHUTDOWN, 'user');
    this.later(Math.max(500, 8 * this.options.opDelayMs), () => {
      if (this.vms.get(vmId)?.state === VmState.VM_STATE_SHUTDOWN) {
        this.set(vmId, VmState.VM_STATE_SHUT_OFF, 'shutdown');
      }
    });
  }

  private balloon(vmId: string): void {
    const vm = this.require(vmId);
    const steps = Math.max(1, vm.maxMemoryMib / 256);
    const memoryMib = Math.max(256, (1 + this.prng.int(steps)) * 256);
    this.update({ ...vm, memoryMib: Math.min(memoryMib, vm.maxMemoryMib) });
  }

  private later(delayMs: number, run: () => void): void {
    this.due.push({ at: Date.now() + delayMs, run });
  }

  private set(vmId: string, state: VmState, stateReason: string): void {
    const vm = this.vms.get(vmId);
    if (vm !== undefined) this.update({ ...vm, state, stateReason });
  }

  private update(vm: Vm): void {
    // A stopped VM's counters are gone, as libvirt's: its next start counts from zero again.
    if (vm.state === VmState.VM_STATE_SHUT_OFF || vm.state === VmState.VM_STATE_CRASHED) {
      this.metrics.stopped(vm.id);
    }
    this.vms.set(vm.id, vm);
    this.sink?.vm(vm);
  }

  private require(vmId: string): Vm {
    const vm = this.vms.get(vmId.toLowerCase());
    if (vm === undefined)
      throw new DriverError(VM_NOT_FOUND, `Domain not found: no domain with matching uuid '${vmId}'`);
    return vm;
  }
}
