import {
  connect,
  type Domain,
  type DomainEventStream,
  isNoDomain,
  type LibvirtConnection,
  toRemoteDomain,
  VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE,
  VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT,
  VIR_CONNECT_LIST_DOMAINS_AUTOSTART,
  VIR_CONNECT_LIST_DOMAINS_PERSISTENT,
  VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
  VIR_DOMAIN_EVENT_ID_TUNABLE,
  VIR_DOMAIN_EVENT_STOPPED,
  VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
  VIR_DOMAIN_STATS_BALLOON,
  VIR_DOMAIN_STATS_BLOCK,
  VIR_DOMAIN_STATS_CPU_TOTAL,
  VIR_DOMAIN_STATS_INTERFACE,
  VIR_DOMAIN_STATS_STATE,
  VIR_DOMAIN_STATS_VCPU,
} from '@cockpit/libvirt';
import type { HostInfo, Vm } from '@cockpit/proto';
import type { CounterReading } from '../../metrics/counters.ts';
import type { PowerOperation } from '../driver.ts';
import { readingFromStats } from './counters-from-stats.ts';
import { DiskCatalog } from './disk-catalog.ts';
import { blockStatsOf } from './domain-disks.ts';
import type { DomainNotice, LibvirtLink, NoticeStream } from './libvirt-link.ts';
import { vmFromStats } from './vm-from-stats.ts';

// Block statistics name each disk's target, source and capacity: the rest of a disk comes from the XML,
// read only when those change (DiskCatalog).
const STATS =
  VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BLOCK;
/** XML reads in flight at once during a listing: leaves room in libvirtd's 5 requests per client. */
const XML_READS = 2;
const CALL_TIMEOUT_MS = 30_000;
/**
 * Every statistics call: what a domain's job lock guards (block figures, which ask QEMU) is left out
 * for a domain whose lock is taken, instead of waiting up to 30 s for it. An incoming migration holds
 * that lock from its prepare to its end and lets no query in, so without this every listing, every read
 * of the incoming domain and every metrics sample on the destination waited for libvirt to give up.
 * What is left out, for that domain only: a disk's capacity (DiskCatalog keeps the last one read) and,
 * when the lock is only briefly taken (by another query), its disk counters: no disk rates for that
 * sample and the next, rather than a gap in every VM's.
 */
const NOWAIT = VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
// The metrics sampler's one bulk call per period (state: to leave out a migration's paused copy).
const COUNTER_STATS =
  VIR_DOMAIN_STATS_STATE |
  VIR_DOMAIN_STATS_CPU_TOTAL |
  VIR_DOMAIN_STATS_BALLOON |
  VIR_DOMAIN_STATS_VCPU |
  VIR_DOMAIN_STATS_INTERFACE |
  VIR_DOMAIN_STATS_BLOCK;

/**
 * Opens a connection to libvirtd (with libvirt's keepalive) as a LibvirtLink; each call on it fails after
 * `callTimeoutMs` (30 s) without an answer.
 */
export async function connectLink(
  uri: string,
  signal: AbortSignal,
  { callTimeoutMs = CALL_TIMEOUT_MS }: { callTimeoutMs?: number } = {},
): Promise<LibvirtLink> {
  return new ConnectionLink(await connect(uri, { signal, callTimeoutMs }));
}

/** The one place the driver's needs meet @cockpit/libvirt's calls. */
class ConnectionLink implements LibvirtLink {
  private readonly disks = new DiskCatalog();

  constructor(private readonly conn: LibvirtConnection) {}

  get closed(): Promise<Error> {
    return this.conn.closed;
  }

  async watch(signal: AbortSignal): Promise<NoticeStream> {
    // Lifecycle (defined, started, suspended, stopped, undefined, …), balloon (current memory) and
    // tunable (vCPU changes) are every event after which a Vm record can differ; reboot tells a reboot
    // asked for that it happened.
    const events = await this.conn.domains.events({
      kinds: ['lifecycle', 'reboot'],
      otherEventIds: [VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE, VIR_DOMAIN_EVENT_ID_TUNABLE],
      signal,
    });
    return noticesOf(events);
  }

  async listVms(): Promise<Vm[]> {
    const [stats, persistent, autostart] = await Promise.all([
      this.conn.domains.getAllStats(STATS, NOWAIT),
      this.conn.domains.listAll(VIR_CONNECT_LIST_DOMAINS_PERSISTENT),
      this.conn.domains.listAll(VIR_CONNECT_LIST_DOMAINS_AUTOSTART),
    ]);
    const persistentIds = new Set(persistent.map((d) => d.uuid));
    const autostartIds = new Set(autostart.map((d) => d.uuid));
    const vms = await mapLimit(stats, XML_READS, async (s) => {
      const uuid = s.domain.uuid.toLowerCase();
      const blocks = blockStatsOf(s.stats);
      try {
        const disks = await this.disks.disksOf(uuid, blocks, () => this.conn.domains.getXmlDesc(s.domain));
        const vm = vmFromStats(
          s.domain,
          s.stats,
          persistentIds.has(s.domain.uuid),
          autostartIds.has(s.domain.uuid),
        );
        return { ...vm, disks };
      } catch (err) {
        // Gone since the statistics were taken: it is not on the host any more.
        if (isNoDomain(err)) return undefined;
        throw err;
      }
    });
    const listed = vms.filter((vm): vm is Vm => vm !== undefined);
    this.disks.retainOnly(new Set(listed.map((vm) => vm.id)));
    return listed;
  }

  async readVm(uuid: string): Promise<Vm | undefined> {
    try {
      const dom = await this.conn.domains.lookupByUuid(uuid);
      const remote = { dom: toRemoteDomain(dom) };
      const [stats, persistent, autostart, xml] = await Promise.all([
        this.conn.domains.getAllStats(STATS, NOWAIT, [dom]),
        this.conn.remote.domainIsPersistent(remote),
        this.conn.remote.domainGetAutostart(remote),
        this.conn.domains.getXmlDesc(dom),
      ]);
      const record = stats[0];
      if (record === undefined) return undefined;
      const blocks = blockStatsOf(record.stats);
      // An event may mean a redefinition: the XML is read whatever the statistics say.
      const disks = await this.disks.disksOf(uuid, blocks, async () => xml, true);
      const vm = vmFromStats(dom, record.stats, persistent.persistent === 1, autostart.autostart === 1);
      return { ...vm, disks };
    } catch (err) {
      // Gone between the event and the read (undefined, or a transient domain that stopped).
      if (isNoDomain(err)) {
        this.disks.forget(uuid);
        return undefined;
      }
      throw err;
    }
  }

  async hostInfo(): Promise<HostInfo> {
    const [type, hvVersion, libVersion, node, capabilities] = await Promise.all([
      this.conn.remote.connectGetType(),
      this.conn.host.getVersion(),
      this.conn.host.getLibVersion(),
      this.conn.host.getNodeInfo(),
      this.conn.host.getCapabilities(),
    ]);
    return {
      hypervisor: `${type.type} ${versionText(hvVersion)}`,
      libvirtVersion: versionText(libVersion),
      cpus: node.cpus,
      memoryMib: Number(node.memoryKiB / 1024n),
      cpuModel: node.model,
      hostUuid: /<host>\s*<uuid>([^<]+)<\/uuid>/.exec(capabilities)?.[1]?.trim() ?? '',
    };
  }

  async power(uuid: string, op: PowerOperation, signal?: AbortSignal): Promise<void> {
    const opts = { signal };
    const dom: Domain = await this.conn.domains.lookupByUuid(uuid, opts);
    switch (op) {
      case 'start':
        await this.conn.domains.create(dom, 0, opts);
        return;
      case 'shutdown':
        await this.conn.domains.shutdown(dom, 0, opts);
        return;
      case 'destroy':
        await this.conn.domains.destroy(dom, 0, opts);
        return;
      case 'reboot':
        await this.conn.domains.reboot(dom, 0, opts);
        return;
      case 'reset':
        await this.conn.domains.reset(dom, opts);
        return;
      case 'suspend':
        await this.conn.domains.suspend(dom, opts);
        return;
      case 'resume':
        await this.conn.domains.resume(dom, opts);
        return;
    }
  }

  async close(): Promise<void> {
    await this.conn.close();
  }

  async readCounters(signal?: AbortSignal): Promise<CounterReading> {
    const opts = { signal };
    const before = performance.now();
    const [stats, cpu, memory] = await Promise.all([
      this.conn.domains.getAllStats(
        COUNTER_STATS,
        VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE | NOWAIT,
        [],
        opts,
      ),
      this.conn.host.getCpuStats(-1, 0, opts),
      this.conn.host.getMemoryStats(-1, 0, opts),
    ]);
    // The daemon read the counters somewhere between the call and its reply.
    return readingFromStats(stats, cpu, memory, (before + performance.now()) / 2);
  }
}

function noticesOf(events: DomainEventStream): NoticeStream {
  return {
    get dropped() {
      return events.dropped;
    },
    async *[Symbol.asyncIterator](): AsyncIterator<DomainNotice> {
      for await (const event of events) {
        const migratedAway =
          event.kind === 'lifecycle' &&
          event.event === VIR_DOMAIN_EVENT_STOPPED &&
          event.detail === VIR_DOMAIN_EVENT_STOPPED_MIGRATED;
        yield { uuid: event.domain.uuid.toLowerCase(), migratedAway, rebooted: event.kind === 'reboot' };
      }
    },
  };
}

/** `work` over `items`, at most `limit` at a time, results in order. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** libvirt's version encoding (major * 1,000,000 + minor * 1,000 + release) as text. */
const versionText = (v: number) => `${Math.floor(v / 1_000_000)}.${Math.floor(v / 1000) % 1000}.${v % 1000}`;
