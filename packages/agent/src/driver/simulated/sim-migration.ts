import { type Vm, VmRemovalReason, VmState } from '@cockpit/proto';
import { DriverError, VM_NOT_FOUND } from '../driver-error.ts';
import {
  type IncomingMigration,
  type MigrationDriver,
  type MigrationJob,
  NAME_IN_USE,
  type OutgoingMigration,
  VM_RUNNING_HERE,
} from '../migration-driver.ts';
import type { SharedTicker } from './shared-ticker.ts';
import { SimMigrationJob } from './sim-migration-job.ts';

/** A simulated host's VMs, as its migration sees them: changes go through the host's state stream. */
export interface SimVms {
  get(vmId: string): Vm | undefined;
  all(): Iterable<Vm>;
  put(vm: Vm): void;
  drop(vmId: string, reason: VmRemovalReason): void;
}

export interface SimulatedMigrationOptions {
  /** Where the other simulated hosts of the process find this one. */
  uri: string;
  hostUuid: string;
  vms: SimVms;
  ticker: SharedTicker;
  /** Link speed without a bandwidth limit. */
  bytesPerSecond: number;
}

/** The simulated hosts of this process by migration URI: how a source finds its destination. */
const hosts = new Map<string, SimulatedMigration>();

const active = (vm: Vm) => vm.state !== VmState.VM_STATE_SHUT_OFF && vm.state !== VmState.VM_STATE_CRASHED;

/**
 * Live migration between simulated hosts of one process, told apart by their migration URIs
 * (sim://<hostname> by default). The VM leaves and arrives as under libvirt: paused ("migration") on
 * the destination from the start, running there ("migrated") at the switch-over, then removed from the
 * source (reason MIGRATED) or left shut off there ("migrated") when its definition stays. Refusals use
 * libvirt's codes and words.
 */
export class SimulatedMigration implements MigrationDriver {
  private readonly outgoing = new Map<string, SimMigrationJob>();
  private readonly incoming = new Map<string, SimMigrationJob>();

  constructor(private readonly o: SimulatedMigrationOptions) {}

  /** The host is up: other simulated hosts can migrate to it. */
  register(): void {
    hosts.set(this.o.uri, this);
  }

  /** The host goes away: its migrations end (those coming in fail on their source). */
  unregister(): void {
    if (hosts.get(this.o.uri) === this) hosts.delete(this.o.uri);
    for (const job of this.incoming.values()) job.lostDestination();
    for (const job of this.outgoing.values()) job.dispose();
    this.outgoing.clear();
  }

  /** True while the VM migrates from or to this host (nothing else may change it meanwhile). */
  busy(vmId: string): boolean {
    return this.outgoing.has(vmId) || this.incoming.has(vmId);
  }

  async prepareIncoming(incoming: IncomingMigration): Promise<void> {
    const same = this.o.vms.get(incoming.vmId);
    if (same !== undefined && active(same)) {
      throw new DriverError(
        VM_RUNNING_HERE,
        `domain '${same.name}' (${same.id}) is already running on this host`,
      );
    }
    const named = [...this.o.vms.all()].find((vm) => vm.name === incoming.vmName && vm.id !== incoming.vmId);
    if (named !== undefined) {
      throw new DriverError(
        NAME_IN_USE,
        `another domain on this host is named '${named.name}' (UUID ${named.id})`,
      );
    }
  }

  async migrate(outgoing: OutgoingMigration): Promise<MigrationJob> {
    const { vmId, options } = outgoing;
    const vm = this.o.vms.get(vmId);
    if (vm === undefined) {
      throw new DriverError(VM_NOT_FOUND, `Domain not found: no domain with matching uuid '${vmId}'`);
    }
    if (!active(vm))
      throw new DriverError('OPERATION_INVALID', 'Requested operation is not valid: domain is not running');
    const dest = hosts.get(outgoing.connectUri);
    if (dest === undefined) {
      const server = outgoing.connectUri.replace(/^[a-z+]+:\/\//, '').replace(/\/.*$/, '');
      throw new DriverError('SYSTEM_ERROR', `unable to connect to server at '${server}': Connection refused`);
    }
    if (dest === this) {
      throw new DriverError(
        'INTERNAL_ERROR',
        `internal error: Attempt to migrate guest to the same host ${this.o.hostUuid}`,
      );
    }
    const there = dest.o.vms.get(vmId);
    if (there !== undefined && active(there)) {
      throw new DriverError('OPERATION_FAILED', `operation failed: domain '${vm.name}' is already active`);
    }
    const job = new SimMigrationJob({
      memoryMib: vm.maxMemoryMib,
      options,
      bytesPerSecond: this.o.bytesPerSecond,
      ticker: this.o.ticker,
      onSwitchOver: (postCopy) => {
        if (!postCopy) return;
        this.o.vms.put({ ...this.record(vm), state: VmState.VM_STATE_PAUSED, stateReason: 'postcopy' });
        dest.o.vms.put({ ...dest.record(vm), state: VmState.VM_STATE_RUNNING, stateReason: 'postcopy' });
      },
      onEnd: (error) => {
        this.outgoing.delete(vmId);
        dest.incoming.delete(vmId);
        if (error !== undefined) {
          // The incoming domain goes; an inactive definition that was there stays.
          if (there !== undefined) dest.o.vms.put(there);
          else dest.o.vms.drop(vmId, VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED);
          this.o.vms.put({ ...this.record(vm), state: vm.state, stateReason: vm.stateReason });
          return;
        }
        dest.o.vms.put({
          ...dest.record(vm),
          state: VmState.VM_STATE_RUNNING,
          stateReason: 'migrated',
          persistent: options.persistent || there !== undefined,
        });
        const source = this.record(vm);
        if (options.undefineSource || !source.persistent) {
          this.o.vms.drop(vmId, VmRemovalReason.VM_REMOVAL_REASON_MIGRATED);
        } else {
          this.o.vms.put({ ...source, state: VmState.VM_STATE_SHUT_OFF, stateReason: 'migrated' });
        }
      },
    });
    this.outgoing.set(vmId, job);
    dest.incoming.set(vmId, job);
    // libvirt starts the incoming domain, paused, as the migration begins.
    dest.o.vms.put({
      ...vm,
      state: VmState.VM_STATE_PAUSED,
      stateReason: 'migration',
      persistent: there !== undefined,
      autostart: there?.autostart ?? false,
    });
    if (!options.live) this.o.vms.put({ ...vm, state: VmState.VM_STATE_PAUSED, stateReason: 'migration' });
    return job;
  }

  async runningJob(vmId: string): Promise<MigrationJob | undefined> {
    return this.outgoing.get(vmId);
  }

  /** The VM's current record here, or `fallback` when it is gone. */
  private record(fallback: Vm): Vm {
    return this.o.vms.get(fallback.id) ?? fallback;
  }
}
