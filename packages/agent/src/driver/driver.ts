import type { Driver, HostInfo, Vm, VmRemovalReason } from '@cockpit/proto';
import type { CounterReading } from '../metrics/counters.ts';
import type { MigrationDriver } from './migration-driver.ts';
import type { RebootOutcome } from './reboot-notices.ts';

/** The power operations a driver carries out (the wire's PowerOp, in the agent's words). */
export type PowerOperation = 'start' | 'shutdown' | 'destroy' | 'reboot' | 'reset' | 'suspend' | 'resume';

/**
 * Where a driver reports what it observes. The journal behind it compares every report with the last
 * known record, so a driver may report the same thing twice (an event and a re-list that saw it too)
 * without producing a second change.
 */
export interface DriverSink {
  /** The current record of one VM (it appeared, or may have changed). */
  vm(vm: Vm): void;
  /** A VM is no longer on this host. */
  vmRemoved(id: string, name: string, reason: VmRemovalReason): void;
  /**
   * Every VM on the host right now: the first listing, the safety-net re-list, the listing after the
   * driver reconnected to its hypervisor. VMs known before and missing here are gone. VMs in `skip`, which
   * reports newer than the listing tell about, are left as they are, whether listed or not.
   */
  inventory(vms: readonly Vm[], skip?: ReadonlySet<string>): void;
  /** What the host is, when it changed. */
  host(info: HostInfo): void;
}

export interface PowerOptions {
  signal?: AbortSignal;
}

/**
 * A hypervisor as the agent sees it. Two implementations: `libvirt` (src/driver/libvirt, the only place
 * that uses @cockpit/libvirt) and `simulated` (src/driver/simulated, for the demo and scale tests).
 * Live migration (src/migration) and metric samples (src/metrics, fed by `readCounters`) add their own optional members.
 */
export interface HypervisorDriver {
  /** What Hello.driver says. */
  readonly kind: Driver;
  /** Live migration, for drivers that can (src/migration drives it). */
  readonly migration?: MigrationDriver;
  /**
   * Connects to the hypervisor (retrying as the driver sees fit until `signal` aborts), subscribes to
   * its changes, then lists every VM into `sink.inventory`; resolves once that first listing was
   * reported. From then on changes flow into `sink` until `close()`.
   */
  start(sink: DriverSink, signal?: AbortSignal): Promise<void>;
  /** What the host is (known once `start` resolved). */
  hostInfo(): HostInfo;
  /** Every VM on the host, read now. */
  listVms(options?: PowerOptions): Promise<Vm[]>;
  /**
   * Asks the hypervisor to carry out `op` on a VM. Resolves when the hypervisor accepted the request,
   * which is not always when it is done: a graceful shutdown of a guest that ignores ACPI still
   * resolves; the state stream shows what really happened. Rejects with a DriverError.
   */
  power(vmId: string, op: PowerOperation, options?: PowerOptions): Promise<void>;
  /**
   * Resolves `rebooted` at the VM's next reboot (the guest reset itself, as after a reboot asked for),
   * `missed` once the driver lost events meanwhile (a reboot may have passed unheard), `none` when
   * `timeoutMs` passes first or `signal` aborts. Called before the reboot is asked for.
   */
  nextReboot?(vmId: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<RebootOutcome>;
  close(): Promise<void>;
  /** Performance counters of the host and its active VMs (src/metrics turns them into samples). */
  readCounters?(signal?: AbortSignal): Promise<CounterReading>;
  /** Whether the hypervisor answers right now (the agent's /metrics: cockpit_agent_libvirt_up). */
  hypervisorConnected?(): boolean;
}
