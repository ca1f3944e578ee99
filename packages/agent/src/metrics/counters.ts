/**
 * What a driver reads from its hypervisor for the metrics sampler: cumulative counters (which only grow
 * while the thing they count lives) and levels, exactly as the hypervisor keeps them. The sampler
 * (src/metrics) turns two readings into rates; drivers never compute rates.
 */
export interface CounterReading {
  /** When the counters were read, on a monotonic clock in ms (performance.now()): rates use its deltas. */
  readAtMs: number;
  host: HostCounters;
  /** Every VM whose counters live on this host now (active, and not a migration's paused copy). */
  vms: VmCounters[];
}

export interface HostCounters {
  /** Cumulative CPU time of all host CPUs, ns: busy (user + kernel) and total (busy + idle + iowait). */
  cpuBusyNs?: number;
  cpuTotalNs?: number;
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  memoryAvailableBytes: number;
}

export interface VmCounters {
  /** Domain UUID, lower-case. */
  id: string;
  name: string;
  /**
   * Which life of the VM's counters this is: changes whenever they start again from zero (libvirt's
   * domain id, new at every start of its QEMU process, also after a migration in).
   */
  instance: number;
  vcpus: number;
  /** Cumulative CPU time of the domain, ns (libvirt cpu.time). */
  cpuTimeNs?: number;
  /** Balloon figures, bytes, each when the hypervisor (or the guest's balloon driver) reports it. */
  memoryCurrentBytes?: number;
  memoryAvailableBytes?: number;
  memoryUnusedBytes?: number;
  memoryUsableBytes?: number;
  memoryRssBytes?: number;
  disks: DiskCounters[];
  nets: NetCounters[];
}

/** One disk's cumulative counters (libvirt block.N.*), keyed by its target name ("vda"). */
export interface DiskCounters {
  name: string;
  readBytes: number;
  writeBytes: number;
  readRequests: number;
  writeRequests: number;
}

/** One interface's cumulative counters (libvirt net.N.*, the guest's view), keyed by its name ("vnet0"). */
export interface NetCounters {
  name: string;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

/** A driver that can read performance counters (both drivers can). */
export interface CounterSource {
  /** Reads every counter once; rejects (e.g. DriverError hypervisor_unavailable) when it cannot. */
  readCounters(signal?: AbortSignal): Promise<CounterReading>;
}
