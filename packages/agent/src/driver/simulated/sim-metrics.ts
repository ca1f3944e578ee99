import { type HostInfo, type Vm, VmState } from '@cockpit/proto';
import type { CounterReading, HostCounters, VmCounters } from '../../metrics/counters.ts';
import { Prng } from './prng.ts';

const MIB = 1024 * 1024;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const TAU = 2 * Math.PI;

/** How one simulated VM behaves: a daily wave, a smaller hourly one, noise; sizes of its I/O. */
interface Profile {
  /** The reading that last used it. */
  seen: number;
  seed: number;
  cpuBase: number;
  cpuAmp: number;
  phase: number;
  hourPhase: number;
  diskReadBps: number;
  diskWriteBps: number;
  /** Bytes per disk request. */
  requestBytes: number;
  netRxBps: number;
  netTxBps: number;
  /** Bytes per packet. */
  packetBytes: number;
  /** Share of its memory the guest uses (mean). */
  memoryUse: number;
}

/** One life of a VM's counters: from a start to its stop. */
interface Life {
  /** The reading that last saw the VM. */
  seen: number;
  instance: number;
  lastAtMs: number;
  cpuNs: number;
  readBytes: number;
  writeBytes: number;
  readRequests: number;
  writeRequests: number;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

// Per role: CPU base and amplitude, disk and network scale (MB/s at full load).
const ROLE_SHAPES: Record<string, [cpu: number, amp: number, disk: number, net: number]> = {
  web: [0.15, 0.25, 0.5, 8],
  api: [0.2, 0.25, 0.5, 6],
  db: [0.3, 0.2, 20, 4],
  cache: [0.1, 0.1, 0.2, 10],
  worker: [0.35, 0.3, 4, 1],
  build: [0.4, 0.4, 12, 2],
  mail: [0.05, 0.05, 1, 0.5],
  proxy: [0.1, 0.2, 0.1, 15],
  queue: [0.15, 0.15, 3, 3],
  search: [0.25, 0.2, 10, 2],
};
const DEFAULT_SHAPE: [number, number, number, number] = [0.15, 0.15, 2, 2];

/**
 * Plausible counters for the simulated hypervisor, computed when read (no timers of its own): each running
 * VM's load follows a daily and an hourly sine plus noise around a profile drawn from the seed and its id,
 * and its counters grow by load × elapsed time. A VM's counters start from zero with a new `instance` at
 * every start, as libvirt's do, so the sampler's reset rules see real resets. Deterministic: the same
 * seed and the same reading times give the same numbers.
 */
export class SimMetrics {
  private readonly lives = new Map<string, Life>();
  private readonly profiles = new Map<string, Profile>();
  private instances = 0;
  private readings = 0;
  private readonly host = { lastAtMs: -1, busyNs: 0, totalNs: 0 };

  constructor(
    private readonly seed: string,
    private readonly info: HostInfo,
    private readonly now: () => number = Date.now,
  ) {}

  /** The VM stopped: its counters are gone, the next start begins again from zero. */
  stopped(vmId: string): void {
    this.lives.delete(vmId);
  }

  read(vms: Iterable<Vm>): CounterReading {
    const t = this.now();
    const generation = ++this.readings;
    const out: VmCounters[] = [];
    let vmCpuNs = 0;
    let rss = 0;
    for (const vm of vms) {
      if (!hasCounters(vm.state)) {
        this.lives.delete(vm.id);
        continue;
      }
      const profile = this.profileOf(vm);
      profile.seen = generation;
      let life = this.lives.get(vm.id);
      if (life === undefined) {
        life = newLife(++this.instances, t);
        this.lives.set(vm.id, life);
      }
      life.seen = generation;
      const dtMs = Math.max(0, t - life.lastAtMs);
      life.lastAtMs = t;
      const running = vm.state === VmState.VM_STATE_RUNNING;
      const load = running ? loadAt(profile, t) : 0;
      if (dtMs > 0 && running) {
        const cpuNs = load * vm.vcpus * dtMs * 1e6;
        life.cpuNs += cpuNs;
        vmCpuNs += cpuNs;
        const s = dtMs / 1000;
        const disk = load * s;
        const read = profile.diskReadBps * disk;
        const written = profile.diskWriteBps * disk;
        life.readBytes += Math.round(read);
        life.writeBytes += Math.round(written);
        life.readRequests += Math.round(read / profile.requestBytes);
        life.writeRequests += Math.round(written / profile.requestBytes);
        const rx = profile.netRxBps * disk;
        const tx = profile.netTxBps * disk;
        life.rxBytes += Math.round(rx);
        life.txBytes += Math.round(tx);
        life.rxPackets += Math.round(rx / profile.packetBytes);
        life.txPackets += Math.round(tx / profile.packetBytes);
      }
      const current = vm.memoryMib * MIB;
      const use = Math.min(0.97, profile.memoryUse + 0.08 * Math.sin((TAU * t) / DAY_MS + profile.phase));
      const unused = Math.round(current * (1 - use));
      const memoryRss = Math.round(current * (0.25 + 0.7 * use));
      rss += memoryRss;
      out.push({
        id: vm.id,
        name: vm.name,
        instance: life.instance,
        vcpus: vm.vcpus,
        cpuTimeNs: life.cpuNs,
        memoryCurrentBytes: current,
        memoryAvailableBytes: current,
        memoryUnusedBytes: unused,
        memoryUsableBytes: Math.min(current, unused + Math.round(current * 0.12)),
        memoryRssBytes: memoryRss,
        disks: [
          {
            name: 'vda',
            readBytes: life.readBytes,
            writeBytes: life.writeBytes,
            readRequests: life.readRequests,
            writeRequests: life.writeRequests,
          },
        ],
        nets: [
          {
            name: 'vnet0',
            rxBytes: life.rxBytes,
            txBytes: life.txBytes,
            rxPackets: life.rxPackets,
            txPackets: life.txPackets,
          },
        ],
      });
    }
    // VMs gone from the host (undefined, migrated away) or stopped: their state goes too (a profile is
    // drawn again, identically, when the VM next runs here).
    if (this.lives.size > out.length)
      for (const [id, l] of this.lives) if (l.seen !== generation) this.lives.delete(id);
    if (this.profiles.size > out.length) {
      for (const [id, p] of this.profiles) if (p.seen !== generation) this.profiles.delete(id);
    }
    return { readAtMs: t, host: this.hostCounters(t, vmCpuNs, rss), vms: out };
  }

  private hostCounters(t: number, vmCpuNs: number, rss: number): HostCounters {
    const host = this.host;
    const dtMs = host.lastAtMs < 0 ? 0 : Math.max(0, t - host.lastAtMs);
    host.lastAtMs = t;
    const totalNs = this.info.cpus * dtMs * 1e6;
    host.totalNs += totalNs;
    // The host's own work (about 2 %) on top of its guests, never more than it has.
    host.busyNs += Math.min(totalNs, vmCpuNs + 0.02 * totalNs);
    const total = this.info.memoryMib * MIB;
    const used = Math.min(total, rss + Math.round(total * 0.03));
    return {
      cpuBusyNs: host.busyNs,
      cpuTotalNs: host.totalNs,
      memoryTotalBytes: total,
      memoryUsedBytes: used,
      memoryAvailableBytes: total - used,
    };
  }

  private profileOf(vm: Vm): Profile {
    let profile = this.profiles.get(vm.id);
    if (profile === undefined) {
      profile = drawProfile(new Prng(`${this.seed}/${vm.id}`), vm.name);
      this.profiles.set(vm.id, profile);
    }
    return profile;
  }
}

/** States in which libvirt has counters for a domain (its QEMU process runs). */
const hasCounters = (state: VmState): boolean =>
  state === VmState.VM_STATE_RUNNING ||
  state === VmState.VM_STATE_PAUSED ||
  state === VmState.VM_STATE_SHUTDOWN ||
  state === VmState.VM_STATE_BLOCKED ||
  state === VmState.VM_STATE_PMSUSPENDED;

const newLife = (instance: number, t: number): Life => ({
  seen: 0,
  instance,
  lastAtMs: t,
  cpuNs: 0,
  readBytes: 0,
  writeBytes: 0,
  readRequests: 0,
  writeRequests: 0,
  rxBytes: 0,
  txBytes: 0,
  rxPackets: 0,
  txPackets: 0,
});

function drawProfile(prng: Prng, name: string): Profile {
  const [cpu, amp, disk, net] = ROLE_SHAPES[name.replace(/-\d+$/, '')] ?? DEFAULT_SHAPE;
  const spread = () => 0.6 + 0.8 * prng.next();
  return {
    seen: 0,
    seed: Math.floor(prng.next() * 0x7fffffff),
    cpuBase: cpu * spread(),
    cpuAmp: amp * spread(),
    phase: TAU * prng.next(),
    hourPhase: TAU * prng.next(),
    diskReadBps: disk * MIB * spread(),
    diskWriteBps: disk * 0.5 * MIB * spread(),
    requestBytes: (4 + Math.floor(prng.next() * 60)) * 1024,
    netRxBps: net * MIB * spread(),
    netTxBps: net * 0.7 * MIB * spread(),
    packetBytes: 300 + Math.floor(prng.next() * 1100),
    memoryUse: 0.35 + 0.45 * prng.next(),
  };
}

/** The VM's load at `t` (share of its vCPUs, 0.005..1): daily wave, hourly wave, per-second noise. */
function loadAt(p: Profile, t: number): number {
  const daily = Math.sin((TAU * t) / DAY_MS + p.phase);
  const hourly = Math.sin((TAU * t) / HOUR_MS + p.hourPhase);
  const load = p.cpuBase + p.cpuAmp * daily + 0.3 * p.cpuAmp * hourly + 0.05 * noise(p.seed, t);
  return Math.min(1, Math.max(0.005, load));
}

/** Uniform in [-1, 1), the same for the same seed and second. */
function noise(seed: number, t: number): number {
  let h = (seed ^ Math.floor(t / 1000)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 0x80000000 - 1;
}
