import {
  type DomainStats,
  type TypedParamRecord,
  VIR_DOMAIN_PAUSED,
  VIR_DOMAIN_PAUSED_MIGRATION,
  VIR_DOMAIN_PAUSED_POSTCOPY,
  VIR_DOMAIN_PAUSED_POSTCOPY_FAILED,
  VIR_DOMAIN_PAUSED_STARTING_UP,
  VIR_DOMAIN_SHUTOFF,
} from '@cockpit/libvirt';
import type {
  CounterReading,
  DiskCounters,
  HostCounters,
  NetCounters,
  VmCounters,
} from '../../metrics/counters.ts';

const KIB = 1024;

/** A typed parameter as a number (libvirt's ullong counters arrive as bigint), undefined when absent. */
function num(stats: TypedParamRecord, field: string): number | undefined {
  const v = stats[field];
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : undefined;
}

const kib = (stats: TypedParamRecord, field: string): number | undefined => {
  const v = num(stats, field);
  return v === undefined ? undefined : v * KIB;
};

// Paused copies that are not where the guest runs: the destination of an incoming migration (and a
// VM starting up), the source of a post-copy migration. The VM is sampled on the host that runs it.
const NOT_HERE_YET = new Set([
  VIR_DOMAIN_PAUSED_MIGRATION,
  VIR_DOMAIN_PAUSED_STARTING_UP,
  VIR_DOMAIN_PAUSED_POSTCOPY,
  VIR_DOMAIN_PAUSED_POSTCOPY_FAILED,
]);

/**
 * One domain's counters from libvirt's bulk statistics (state, cpu-total, balloon, vcpu, interface,
 * block groups), or undefined when the domain has no counters here (shut off, or a migration's paused
 * copy).
 */
export function vmCountersFromStats({ domain, stats }: DomainStats): VmCounters | undefined {
  const state = num(stats, 'state.state');
  if (state === VIR_DOMAIN_SHUTOFF || domain.id < 0) return undefined;
  if (state === VIR_DOMAIN_PAUSED && NOT_HERE_YET.has(num(stats, 'state.reason') ?? -1)) return undefined;
  const disks: DiskCounters[] = [];
  for (let i = 0; i < (num(stats, 'block.count') ?? 0); i++) {
    const p = `block.${i}.`;
    const name = stats[`${p}name`];
    const readBytes = num(stats, `${p}rd.bytes`);
    // A drive without medium (an empty CD-ROM) has no counters: it moves nothing.
    if (typeof name !== 'string' || readBytes === undefined) continue;
    disks.push({
      name,
      readBytes,
      writeBytes: num(stats, `${p}wr.bytes`) ?? 0,
      readRequests: num(stats, `${p}rd.reqs`) ?? 0,
      writeRequests: num(stats, `${p}wr.reqs`) ?? 0,
    });
  }
  const nets: NetCounters[] = [];
  for (let i = 0; i < (num(stats, 'net.count') ?? 0); i++) {
    const p = `net.${i}.`;
    const name = stats[`${p}name`];
    const rxBytes = num(stats, `${p}rx.bytes`);
    if (typeof name !== 'string' || rxBytes === undefined) continue;
    nets.push({
      name,
      rxBytes,
      txBytes: num(stats, `${p}tx.bytes`) ?? 0,
      rxPackets: num(stats, `${p}rx.pkts`) ?? 0,
      txPackets: num(stats, `${p}tx.pkts`) ?? 0,
    });
  }
  return {
    id: domain.uuid.toLowerCase(),
    name: domain.name,
    // libvirt gives a domain a new id at every start of its QEMU process (a migration in included), and
    // keeps it across a libvirtd restart, exactly like the counters.
    instance: domain.id,
    vcpus: num(stats, 'vcpu.current') ?? 0,
    cpuTimeNs: num(stats, 'cpu.time'),
    memoryCurrentBytes: kib(stats, 'balloon.current'),
    memoryAvailableBytes: kib(stats, 'balloon.available'),
    memoryUnusedBytes: kib(stats, 'balloon.unused'),
    memoryUsableBytes: kib(stats, 'balloon.usable'),
    memoryRssBytes: kib(stats, 'balloon.rss'),
    disks,
    nets,
  };
}

/**
 * The host's counters from virNodeGetCpuStats (ns: kernel, user, idle, iowait) and virNodeGetMemoryStats
 * (KiB: total, free, buffers, cached) of the whole host.
 */
export function hostCountersFromNode(
  cpu: Record<string, bigint>,
  memory: Record<string, bigint>,
): HostCounters {
  const n = (v: bigint | undefined) => (v === undefined ? undefined : Number(v));
  const kernel = n(cpu.kernel);
  const user = n(cpu.user);
  const idle = n(cpu.idle);
  const busy = kernel !== undefined && user !== undefined ? kernel + user : undefined;
  const total = busy !== undefined && idle !== undefined ? busy + idle + (n(cpu.iowait) ?? 0) : undefined;
  const totalBytes = (n(memory.total) ?? 0) * KIB;
  const reclaimable = ((n(memory.free) ?? 0) + (n(memory.buffers) ?? 0) + (n(memory.cached) ?? 0)) * KIB;
  const available = Math.min(totalBytes, reclaimable);
  return {
    cpuBusyNs: busy,
    cpuTotalNs: total,
    memoryTotalBytes: totalBytes,
    memoryUsedBytes: totalBytes - available,
    memoryAvailableBytes: available,
  };
}

/** A whole reading: every domain with counters here, and the host. */
export function readingFromStats(
  stats: readonly DomainStats[],
  cpu: Record<string, bigint>,
  memory: Record<string, bigint>,
  readAtMs: number,
): CounterReading {
  const vms: VmCounters[] = [];
  for (const record of stats) {
    const counters = vmCountersFromStats(record);
    if (counters !== undefined) vms.push(counters);
  }
  return { readAtMs, host: hostCountersFromNode(cpu, memory), vms };
}
