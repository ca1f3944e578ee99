import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  type Domain,
  type DomainEvent,
  type DomainEventOptions,
  isNoDomain,
  type JobStats,
  type LibvirtConnection,
  VIR_DOMAIN_EVENT_DEFINED,
  VIR_DOMAIN_EVENT_RESUMED,
  VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
  VIR_DOMAIN_EVENT_STARTED,
  VIR_DOMAIN_EVENT_STARTED_MIGRATED,
  VIR_DOMAIN_EVENT_STOPPED,
  VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
  VIR_DOMAIN_JOB_COMPLETED,
  VIR_DOMAIN_JOB_MEMORY_TOTAL,
  VIR_DOMAIN_JOB_OPERATION,
  VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN,
  VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT,
  VIR_DOMAIN_JOB_STATS_COMPLETED,
  VIR_DOMAIN_JOB_UNBOUNDED,
  VIR_DOMAIN_RUNNING,
  VIR_MIGRATE_LIVE,
  VIR_MIGRATE_PEER2PEER,
  VIR_MIGRATE_PERSIST_DEST,
  VIR_MIGRATE_UNDEFINE_SOURCE,
} from '../src/index.ts';
import {
  guestXml,
  isVirshError,
  type LibvirtHost,
  startLibvirtHost,
  virsh,
  virshDominfo,
  virshListAll,
  waitFor,
} from './harness/index.ts';

// Two libvirt hosts on this machine (deploy/dev/libvirt-host), a diskless QEMU guest, and a
// peer-to-peer live migration driven by our client alone; virsh (libvirt's C client) is the witness.

const GUEST_MEMORY_BYTES = 64 * 1024 * 1024;
const MIGRATE_FLAGS =
  VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;

/** Collects a connection's domain events in the background until `stop()`. */
async function recordEvents(conn: LibvirtConnection, opts: DomainEventOptions = {}) {
  const abort = new AbortController();
  const stream = await conn.domains.events({ ...opts, signal: abort.signal });
  const events: DomainEvent[] = [];
  let failure: unknown;
  const pump = (async () => {
    try {
      for await (const event of stream) events.push(event);
    } catch (err) {
      failure = err;
    }
  })();
  return {
    events,
    /** Waits until an event of `uuid` matches, failing early if the stream broke. */
    waitFor(uuid: string, match: (event: DomainEvent) => boolean, what: string): Promise<DomainEvent> {
      return waitFor(
        () => {
          if (failure !== undefined) throw failure;
          return events.find((e) => e.domain.uuid === uuid && match(e));
        },
        { what, timeoutMs: 30_000, intervalMs: 20 },
      );
    },
    async stop(): Promise<void> {
      abort.abort();
      await pump;
    },
  };
}

function isLifecycle(event: number, detail: number) {
  return (e: DomainEvent) => e.kind === 'lifecycle' && e.event === event && e.detail === detail;
}

/**
 * Samples the source's job statistics until one shows the migration moving memory (the first
 * samples of a job come before QEMU reports any figures), or the migration is over.
 */
async function sampleRunningJob(
  conn: LibvirtConnection,
  dom: Domain,
  settled: () => boolean,
): Promise<JobStats | undefined> {
  while (!settled()) {
    const job = await conn.jobs.getStats(dom, 0, { timeoutMs: 5_000 }).catch((err: unknown) => {
      // The migration can finish (and undefine the source) between two samples.
      if (isNoDomain(err)) return undefined;
      throw err;
    });
    if (job === undefined) return undefined;
    if (job.type === VIR_DOMAIN_JOB_UNBOUNDED && Number(job.stats[VIR_DOMAIN_JOB_MEMORY_TOTAL] ?? 0) > 0) {
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return undefined;
}

describe('peer-to-peer live migration between two libvirt hosts', () => {
  let hostA: LibvirtHost;
  let hostB: LibvirtHost;
  let connA: LibvirtConnection;
  let connB: LibvirtConnection;

  beforeAll(async () => {
    [hostA, hostB] = await Promise.all([startLibvirtHost(), startLibvirtHost()]);
    [connA, connB] = await Promise.all([connect(hostA.unixUri), connect(hostB.uri)]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([connA?.close(), connB?.close()]);
    await Promise.all([hostA?.stop(), hostB?.stop()]);
  }, 60_000);

  it('moves a running guest to B, persistent there and gone from A, with job stats and events', async () => {
    const name = `mig-${randomUUID().slice(0, 8)}`;
    const uuid = randomUUID();
    const defined = await connA.domains.defineXml(guestXml({ name, uuid, memoryMiB: 64 }));
    const dom = await connA.domains.create(defined);
    expect((await connA.domains.getState(dom)).state).toBe(VIR_DOMAIN_RUNNING);
    expect((await virshDominfo(hostA.uri, name)).State).toBe('running');

    const eventsA = await recordEvents(connA, { domain: dom });
    const eventsB = await recordEvents(connB, { kinds: ['lifecycle'] });

    // 1 MiB/s stretches the ~600 KiB a diskless guest sends to about a second, long enough to
    // watch the job on the source while the migrate call is in flight on the same connection.
    let settled = false;
    const migration = connA.migration
      .toUri(
        dom,
        hostB.uri,
        { uri: `tcp://127.0.0.1:${hostB.migrationPorts.min}`, listenAddress: '127.0.0.1', bandwidthMiBs: 1 },
        MIGRATE_FLAGS,
        { timeoutMs: 120_000 },
      )
      .finally(() => {
        settled = true;
      });
    const running = await sampleRunningJob(connA, dom, () => settled);
    await migration;

    expect(running, 'job statistics while migrating').toBeDefined();
    expect(running?.stats[VIR_DOMAIN_JOB_OPERATION]).toBe(VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT);
    expect(Number(running?.stats[VIR_DOMAIN_JOB_MEMORY_TOTAL])).toBeGreaterThanOrEqual(GUEST_MEMORY_BYTES);

    // virsh on both sides: running and persistent on B, unknown on A.
    const infoB = await virshDominfo(hostB.uri, name);
    expect(infoB.State).toBe('running');
    expect(infoB.Persistent).toBe('yes');
    expect(infoB.UUID).toBe(uuid);
    expect(await virshListAll(hostA.uri)).not.toContain(name);
    const gone = await virsh(hostA.uri, 'dominfo', name).catch((err: unknown) => err);
    expect(isVirshError(gone)).toBe(true);

    // Our client agrees.
    const lookupA = await connA.domains.lookupByUuid(uuid).catch((err: unknown) => err);
    expect(isNoDomain(lookupA)).toBe(true);
    const domB = await connB.domains.lookupByUuid(uuid);
    expect((await connB.domains.getState(domB)).state).toBe(VIR_DOMAIN_RUNNING);

    // The destination keeps the finished job's statistics.
    const completed = await connB.jobs.getStats(domB, VIR_DOMAIN_JOB_STATS_COMPLETED);
    expect(completed.type).toBe(VIR_DOMAIN_JOB_COMPLETED);
    expect(completed.stats[VIR_DOMAIN_JOB_OPERATION]).toBe(VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN);
    expect(Number(completed.stats[VIR_DOMAIN_JOB_MEMORY_TOTAL])).toBeGreaterThanOrEqual(GUEST_MEMORY_BYTES);

    // Events: the source saw iterations, its guest stop as migrated and the job complete; the
    // destination saw the guest start and resume as migrated and get defined.
    const iteration = await eventsA.waitFor(uuid, (e) => e.kind === 'migrationIteration', 'iteration');
    expect(iteration.kind === 'migrationIteration' && iteration.iteration).toBeGreaterThanOrEqual(1);
    await eventsA.waitFor(
      uuid,
      isLifecycle(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED),
      'stopped/migrated on A',
    );
    const jobDone = await eventsA.waitFor(uuid, (e) => e.kind === 'jobCompleted', 'job completed on A');
    expect(jobDone.kind === 'jobCompleted' && jobDone.stats[VIR_DOMAIN_JOB_OPERATION]).toBe(
      VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT,
    );
    await eventsB.waitFor(
      uuid,
      isLifecycle(VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED),
      'started/migrated on B',
    );
    await eventsB.waitFor(
      uuid,
      isLifecycle(VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED),
      'resumed/migrated on B',
    );
    await eventsB.waitFor(
      uuid,
      (e) => e.kind === 'lifecycle' && e.event === VIR_DOMAIN_EVENT_DEFINED,
      'defined on B',
    );
    await Promise.all([eventsA.stop(), eventsB.stop()]);

    // And back to A without a migrate URI: B's daemon asks A for a port of A's own range and its
    // QEMU reaches A by hostname (the harness resolves host names to 127.0.0.1).
    await connB.migration.toUri(domB, hostA.uri, {}, MIGRATE_FLAGS, { timeoutMs: 120_000 });
    const infoA = await virshDominfo(hostA.uri, name);
    expect(infoA.State).toBe('running');
    expect(infoA.Persistent).toBe('yes');
    expect(await virshListAll(hostB.uri)).not.toContain(name);
  }, 180_000);
});
