import { Driver, type HostInfo, type Vm, VmRemovalReason, VmState } from '@cockpit/proto';
import type { Logger } from 'pino';
import { Backoff, type BackoffOptions, sleep } from '../../connection/backoff.ts';
import type { CounterReading } from '../../metrics/counters.ts';
import type { DriverSink, HypervisorDriver, PowerOperation, PowerOptions } from '../driver.ts';
import { DriverError, HYPERVISOR_UNAVAILABLE, VM_NOT_FOUND } from '../driver-error.ts';
import type { MigrationDriver } from '../migration-driver.ts';
import { RebootNotices, type RebootOutcome } from '../reboot-notices.ts';
import { isConnectionLost, toDriverError } from './libvirt-errors.ts';
import type { LibvirtLink, NoticeStream } from './libvirt-link.ts';
import { LibvirtMigration } from './libvirt-migration.ts';

export interface LibvirtDriverOptions {
  uri: string;
  /** Re-list every VM this often: the safety net behind events. */
  resyncIntervalMs: number;
  log: Logger;
  /** Opens one connection (src/driver/libvirt/connect-link.ts in production). */
  connect: (uri: string, signal: AbortSignal) => Promise<LibvirtLink>;
  /** Reconnect backoff (default 200 ms doubling to 30 s, full jitter). */
  backoff?: BackoffOptions;
  /** Folders declared shared between hosts (live migration leaves their disks in place). */
  sharedStorage?: readonly string[];
  /**
   * When a domain is read again without an event (default 0.1, 0.3, 1, 3, 10 s): one that stopped as
   * migrated but was still defined, or one running with a disk of unknown capacity.
   */
  recheckDelaysMs?: readonly number[];
}

const RECHECK_DELAYS_MS = [100, 300, 1_000, 3_000, 10_000];
/**
 * Domain reads in flight on the connection. libvirtd works on 5 calls of a connection at a time
 * (`max_client_requests`): a few stay free for the listing, the statistics and power operations.
 */
const READS_IN_FLIGHT = 3;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The hypervisor through libvirt. Subscribes to every event that changes what a VM record holds and
 * re-reads the domain it names (events for one domain coalesce into one read); re-lists everything on
 * connect, every `resyncIntervalMs`, and whenever events were dropped, so no drift survives a missed
 * event. When libvirtd goes away it reconnects with backoff and re-lists.
 */
export class LibvirtDriver implements HypervisorDriver {
  readonly kind = Driver.DRIVER_LIBVIRT;
  readonly migration: MigrationDriver;
  private link: LibvirtLink | undefined;
  private info: HostInfo | undefined;
  private sink: DriverSink | undefined;
  private loop: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly stop = new AbortController();
  /** Domains to read again. */
  private readonly dirty = new Set<string>();
  /**
   * Domains that stopped because they migrated away, with the number of the notice that said so: a read
   * that began before that notice is older than the stop and cannot say the domain is back in use.
   */
  private readonly migratedAway = new Map<string, number>();
  private readonly reboots = new RebootNotices();
  /** Re-reads due without an event (`recheck`), and how many were done since the last event. */
  private readonly rechecks = new Map<string, { done: number; timer: NodeJS.Timeout }>();
  /** Notices received so far (a read records it when it starts). */
  private noticeCount = 0;
  /** Domains being read now: at most READS_IN_FLIGHT, each by one read at a time. */
  private readonly reading = new Set<string>();
  /**
   * Set while a listing runs: domains being read when it started, and those an event named or a read began
   * for since. Their reads report them (done, or due), maybe after what the listing found: it leaves them out.
   */
  private touchedWhileListing: Set<string> | undefined;
  /** The current connection's notices (their count of events libvirt dropped). */
  private notices: NoticeStream | undefined;
  /** `notices.dropped` when the newest listing began: drops up to there are in what it found. */
  private droppedBeforeListing = 0;
  private readonly log: Logger;

  constructor(private readonly options: LibvirtDriverOptions) {
    this.log = options.log.child({ libvirt: options.uri });
    this.migration = new LibvirtMigration({
      uri: options.uri,
      sharedStorage: options.sharedStorage ?? [],
      log: options.log,
    });
  }

  async start(sink: DriverSink, signal?: AbortSignal): Promise<void> {
    this.sink = sink;
    let listed: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => {
      listed = resolve;
    });
    this.loop = this.run(listed);
    const stopped = new Promise<void>((resolve) => {
      signal?.addEventListener('abort', () => resolve(), { once: true });
      this.stop.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([ready, stopped]);
    this.resyncTimer = setInterval(() => void this.resync('periodic'), this.options.resyncIntervalMs);
    this.resyncTimer.unref();
  }

  hostInfo(): HostInfo {
    if (this.info === undefined)
      throw new DriverError(HYPERVISOR_UNAVAILABLE, 'not connected to libvirt yet');
    return this.info;
  }

  async listVms(): Promise<Vm[]> {
    return this.call((link) => link.listVms());
  }

  async power(vmId: string, op: PowerOperation, options: PowerOptions = {}): Promise<void> {
    if (!UUID.test(vmId)) throw new DriverError(VM_NOT_FOUND, `no domain with UUID '${vmId}'`);
    await this.call((link) => link.power(vmId.toLowerCase(), op, options.signal));
    // The events say the same; reading now brings the change without waiting for them.
    this.markDirty(vmId.toLowerCase());
  }

  nextReboot(vmId: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<RebootOutcome> {
    return this.reboots.next(vmId, options);
  }

  async close(): Promise<void> {
    this.stop.abort();
    clearInterval(this.resyncTimer);
    for (const uuid of [...this.rechecks.keys()]) this.endRechecks(uuid);
    await this.loop;
  }

  /** One bulk statistics call (every active domain) and the node's CPU and memory figures. */
  async readCounters(signal?: AbortSignal): Promise<CounterReading> {
    return this.call((link) => link.readCounters(signal));
  }

  /** Whether a connection to libvirtd is up right now. */
  hypervisorConnected(): boolean {
    return this.link !== undefined;
  }

  private async call<T>(work: (link: LibvirtLink) => Promise<T>): Promise<T> {
    const link = this.link;
    if (link === undefined)
      throw new DriverError(HYPERVISOR_UNAVAILABLE, 'not connected to libvirt (reconnecting)');
    try {
      return await work(link);
    } catch (err) {
      throw toDriverError(err);
    }
  }

  /** Connects, watches and re-lists; after the connection is lost, the same again after a backoff. */
  private async run(listed: () => void): Promise<void> {
    const backoff = new Backoff(this.options.backoff);
    const signal = this.stop.signal;
    while (!signal.aborted) {
      let link: LibvirtLink | undefined;
      try {
        link = await this.options.connect(this.options.uri, signal);
        // Subscribed before listing: whatever happens after the listing began is also an event.
        const notices = await link.watch(signal);
        this.notices = notices;
        this.link = link;
        await this.relist(link, 'connected');
        listed();
        backoff.reset();
        this.log.info('connected to libvirt');
        await this.follow(notices);
        if (!signal.aborted)
          this.log.warn({ reason: (await link.closed).message }, 'libvirt connection lost');
      } catch (err) {
        if (signal.aborted) break;
        this.log.warn(
          { err: (err as Error).message },
          link === undefined ? 'cannot connect to libvirt' : 'libvirt connection lost',
        );
      } finally {
        this.link = undefined;
        // Whatever libvirt said from here until the next connection's subscription is lost.
        this.reboots.missed();
        await link?.close();
      }
      if (signal.aborted) break;
      const delayMs = backoff.next();
      this.log.info({ retryInMs: delayMs, failures: backoff.failures }, 'reconnecting to libvirt');
      await sleep(delayMs, signal);
    }
  }

  private async follow(notices: NoticeStream): Promise<void> {
    for await (const notice of notices) {
      if (notice.rebooted) {
        // No record changed: nothing to read.
        this.reboots.rebooted(notice.uuid);
        this.relistIfDropped();
        continue;
      }
      this.noticeCount += 1;
      if (notice.migratedAway) this.migratedAway.set(notice.uuid, this.noticeCount);
      // The read this notice sets off starts a new series of reads again, should it need one.
      const rechecks = this.rechecks.get(notice.uuid);
      if (rechecks !== undefined) rechecks.done = 0;
      this.markDirty(notice.uuid);
      this.relistIfDropped();
    }
  }

  /**
   * Events were dropped since the newest listing began: it may have found the host before them, so list
   * again. A listing that runs now may be as old: it checks again when it ends.
   */
  private relistIfDropped(): void {
    const dropped = (this.notices?.dropped ?? 0) - this.droppedBeforeListing;
    if (dropped <= 0 || this.touchedWhileListing !== undefined) return;
    this.log.warn({ dropped }, 'libvirt events were dropped: re-listing');
    // The re-list finds every state again, but not a reboot among the dropped events.
    this.reboots.missed();
    void this.resync('events dropped');
  }

  private markDirty(uuid: string): void {
    this.dirty.add(uuid);
    this.touchedWhileListing?.add(uuid);
    this.readDirty();
  }

  /**
   * Reads dirty domains, each once however many events named it meanwhile, several side by side: a
   * domain whose QEMU no longer answers its monitor holds its read until the call's deadline (30 s),
   * and the other domains' changes must not wait for it. One domain is read by one read at a time, so
   * its reads report in the order they began; named again while read, it is read again after.
   */
  private readDirty(): void {
    for (const uuid of this.dirty) {
      if (this.reading.size >= READS_IN_FLIGHT) return;
      if (this.reading.has(uuid)) continue;
      const link = this.link;
      if (link === undefined) return;
      this.dirty.delete(uuid);
      this.reading.add(uuid);
      void this.read(link, uuid).finally(() => {
        this.reading.delete(uuid);
        this.readDirty();
      });
    }
  }

  private async read(link: LibvirtLink, uuid: string): Promise<void> {
    this.touchedWhileListing?.add(uuid);
    const since = this.noticeCount;
    try {
      this.apply(uuid, await link.readVm(uuid), since);
    } catch (err) {
      // A lost connection is the run loop's business (it re-lists after reconnecting).
      if (isConnectionLost(err)) return;
      this.log.warn({ err: (err as Error).message, vmId: uuid }, 'could not read a domain after its event');
    }
  }

  /** Reports what a read found; `since` is the number of notices received when the read began. */
  private apply(uuid: string, vm: Vm | undefined, since: number): void {
    if (vm !== undefined) {
      // Back in use (started again, or migrated back): a later removal is no longer a migration. Only
      // a read that began after the stop can say so; one that began before it and answers after it
      // (the domain still paused at the switch-over) would turn the removal that follows into an undefine.
      const stoppedAt = this.migratedAway.get(uuid);
      if (vm.state !== VmState.VM_STATE_SHUT_OFF && stoppedAt !== undefined && stoppedAt <= since) {
        this.migratedAway.delete(uuid);
      }
      this.sink?.vm(vm);
      const stoppedAsMigrated = vm.state === VmState.VM_STATE_SHUT_OFF && this.migratedAway.has(uuid);
      if (stoppedAsMigrated || capacityUnknown(vm)) this.recheck(uuid);
      else this.endRechecks(uuid);
      return;
    }
    this.endRechecks(uuid);
    const reason = this.migratedAway.delete(uuid)
      ? VmRemovalReason.VM_REMOVAL_REASON_MIGRATED
      : VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED;
    this.sink?.vmRemoved(uuid, '', reason);
  }

  /**
   * Reads the domain again a few times, further apart each time, where no event would say when to:
   * - A migration with VIR_MIGRATE_UNDEFINE_SOURCE removes the source's definition after its last event
   *   (SUSPENDED then STOPPED, both MIGRATED; libvirt sends no UNDEFINED for it), so the read that event
   *   set off may find the domain still defined. One kept defined (no undefine_source) stays after the
   *   last; the periodic re-listing, which reports a migrated-away domain it no longer finds as migrated,
   *   remains the backstop.
   * - A running domain's disk capacities come from QEMU, left out while its job lock is taken: by an
   *   incoming migration until its very end, after the event that says it runs here. Read again once the
   *   lock is free, so the record does not keep a capacity of 0 until the next re-listing.
   */
  private recheck(uuid: string): void {
    const done = this.rechecks.get(uuid)?.done ?? 0;
    clearTimeout(this.rechecks.get(uuid)?.timer);
    const delayMs = (this.options.recheckDelaysMs ?? RECHECK_DELAYS_MS)[done];
    if (delayMs === undefined || this.stop.signal.aborted) return;
    const timer = setTimeout(() => this.markDirty(uuid), delayMs);
    timer.unref();
    this.rechecks.set(uuid, { done: done + 1, timer });
  }

  private endRechecks(uuid: string): void {
    clearTimeout(this.rechecks.get(uuid)?.timer);
    this.rechecks.delete(uuid);
  }

  private async resync(why: string): Promise<void> {
    const link = this.link;
    if (link === undefined || this.touchedWhileListing !== undefined) return;
    try {
      await this.relist(link, why);
    } catch (err) {
      if (!isConnectionLost(err)) this.log.warn({ err: (err as Error).message, why }, 're-listing failed');
    }
  }

  private async relist(link: LibvirtLink, why: string): Promise<void> {
    // Reads under way answer after it begins, perhaps after it reports: theirs stands, as do the reads
    // that begin while it runs.
    const touched = new Set<string>(this.reading);
    this.touchedWhileListing = touched;
    this.droppedBeforeListing = this.notices?.dropped ?? 0;
    try {
      const [host, vms] = await Promise.all([link.hostInfo(), link.listVms()]);
      this.info = host;
      this.sink?.host(host);
      // Gone since it stopped as migrated: a migration's removal, whichever reads missed it (`recheck`).
      const listed = new Set(vms.map((vm) => vm.id));
      const gone = [...this.migratedAway.keys()].filter((id) => !listed.has(id) && !touched.has(id));
      for (const uuid of gone) {
        this.endRechecks(uuid);
        this.migratedAway.delete(uuid);
        this.sink?.vmRemoved(uuid, '', VmRemovalReason.VM_REMOVAL_REASON_MIGRATED);
      }
      // The touched ones as found here may be older than their reads: they would undo those until read again.
      this.sink?.inventory(vms, touched);
      for (const vm of vms) if (!touched.has(vm.id) && capacityUnknown(vm)) this.recheck(vm.id);
      this.log.debug({ why, vms: vms.length }, 'listed every domain');
    } finally {
      this.touchedWhileListing = undefined;
    }
    this.relistIfDropped();
  }
}

/**
 * A running domain with a disk of capacity 0: statistics read while its job lock was taken (and none
 * known from before). A shut-off domain's capacities come from its images, and stay as read.
 */
const capacityUnknown = (vm: Vm): boolean =>
  vm.state !== VmState.VM_STATE_SHUT_OFF && vm.disks.some((disk) => disk.capacityBytes === 0);
