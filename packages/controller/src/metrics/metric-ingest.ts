import { hostValue, type MetricsBatch, type VmSample, vmValue } from '@cockpit/proto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Sql, Tx } from '../database/sql.ts';
import { sameId } from '../ids.ts';
import { LatestSamples } from './latest-samples.ts';
import { HOST_METRICS, type Subject, VM_METRICS } from './metric-catalog.ts';
import { createPartitions, partitionName } from './metric-partitions.ts';
import { floorTo, TIERS, type TierRetention, tableOf } from './metric-tiers.ts';

const MINUTE = 60_000;
/** Samples further ahead than this of the controller's clock are refused (an agent's clock is wrong). */
const MAX_AHEAD_MS = 60 * MINUTE;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** How often one host's dropped samples of VMs it does not hold are logged, at most. */
const FOREIGN_LOG_MS = MINUTE;
/** VM ids named in that log line, at most. */
const FOREIGN_LOG_IDS = 5;

interface Row {
  id: string;
  /** The host whose stream sent it (for a VM's sample: checked against the VM's host at the flush). */
  hostId: string;
  atMs: number;
  values: Array<number | undefined>;
}

/**
 * Where the controller holds each VM: this replica's VM cache. An agent is authenticated as its host
 * only, so its VM samples are kept only for the VMs held on that host.
 */
export interface VmOwners {
  /** Resolves once what committed before the call is visible to `hostOf`. */
  catchUp(): Promise<void>;
  /** The host holding the VM, or undefined when no host does. */
  hostOf(vmId: string): string | undefined;
}

export interface MetricIngestStats {
  /** Samples taken off agent streams. */
  received: number;
  /** Samples written (re-sent ones included: ON CONFLICT ignores them). */
  written: number;
  /** Samples not kept, and why. */
  dropped: { invalid: number; outOfRange: number; overflow: number; failed: number; foreign: number };
  /** Time spent in the database writing them, ms. */
  databaseMs: number;
}

export interface MetricIngestDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
  retention: TierRetention;
  /** Whose VM samples a host may send (foreign ones are dropped at the flush, counted as `foreign`). */
  owners: VmOwners;
  /** How often buffered samples are written (default 1 s). */
  flushMs?: number;
  /** Most rows of one subject in one INSERT (default 20,000). */
  maxRowsPerStatement?: number;
  /** Most samples waiting for the database; more are dropped and counted (default 200,000). */
  maxBuffered?: number;
  /** A VM's or host's newest sample older than this is no longer a current gauge (default 60 s). */
  latestStaleMs?: number;
}

/**
 * Takes metric samples off agent streams and writes them to the raw tables in batches: every sample of
 * every stream on this replica that arrived within `flushMs` goes into one transaction of one INSERT per
 * subject (a few arrays as parameters, unnested by the server). A stream never waits for the database:
 * samples are buffered (bounded by `maxBuffered`) and a crash loses at most one flush interval of them.
 *
 * A VM's samples are kept only from the host the controller holds it on (`owners`, checked at the
 * flush after one catch-up of the VM cache, so a VM created or moved by a state batch committed before
 * the flush counts as held): an agent cannot write another host's VMs' series, and a migrated VM's
 * series continues from its new host once the move has committed, the old host's later samples
 * dropped. A host's own samples are keyed by the stream's host id, never by what the agent says.
 */
export class MetricIngest {
  readonly stats: MetricIngestStats = {
    received: 0,
    written: 0,
    dropped: { invalid: 0, outOfRange: 0, overflow: 0, failed: 0, foreign: 0 },
    databaseMs: 0,
  };
  /** The newest sample of each VM and host streaming here (the gauges of /metrics). */
  readonly latest: LatestSamples;
  private buffered: Record<Subject, Row[]> = { vm: [], host: [] };
  /** Each sending host's newest sample of each VM since the last flush: the gauges, once owned. */
  private latestVms = new Map<string, Map<string, VmSample>>();
  /** When each host's foreign samples were last logged, and how many were dropped since. */
  private readonly foreignLog = new Map<string, { atMs: number; unlogged: number }>();
  private readonly knownPartitions = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly maxRows: number;
  private readonly maxBuffered: number;

  constructor(private readonly deps: MetricIngestDeps) {
    this.maxRows = deps.maxRowsPerStatement ?? 20_000;
    this.maxBuffered = deps.maxBuffered ?? 200_000;
    this.latest = new LatestSamples(deps.latestStaleMs ?? 60_000);
  }

  /** Samples waiting for the database. */
  get pending(): number {
    return this.buffered.vm.length + this.buffered.host.length;
  }

  /** Buffers one batch of `hostId`'s agent; what cannot be kept is counted, never thrown. */
  accept(hostId: string, batch: MetricsBatch): void {
    const count = batch.vms.length + batch.hosts.length;
    this.stats.received += count;
    if (this.pending + count > this.maxBuffered) {
      this.stats.dropped.overflow += count;
      return;
    }
    const nowMs = this.deps.clock.now().getTime();
    const oldest = nowMs - this.deps.retention.raw;
    const inRange = (atMs: number) => Number.isFinite(atMs) && atMs >= oldest && atMs <= nowMs + MAX_AHEAD_MS;
    for (const s of batch.hosts) {
      if (!inRange(s.atMs)) this.stats.dropped.outOfRange += 1;
      else {
        this.buffered.host.push({
          id: hostId,
          hostId,
          atMs: s.atMs,
          values: HOST_METRICS.map((m) => hostValue(s, m.field)),
        });
        this.latest.noteHost(hostId, s);
      }
    }
    let latest: Map<string, VmSample> | undefined;
    for (const s of batch.vms) {
      const id = s.vmId.toLowerCase();
      if (!UUID.test(id)) this.stats.dropped.invalid += 1;
      else if (!inRange(s.atMs)) this.stats.dropped.outOfRange += 1;
      else {
        this.buffered.vm.push({
          id,
          hostId,
          atMs: s.atMs,
          values: VM_METRICS.map((m) => vmValue(s, m.field)),
        });
        latest ??= this.latestOf(hostId);
        const known = latest.get(id);
        if (known === undefined || known.atMs <= s.atMs)
          latest.set(id, id === s.vmId ? s : { ...s, vmId: id });
      }
    }
  }

  private latestOf(hostId: string): Map<string, VmSample> {
    let own = this.latestVms.get(hostId);
    if (own === undefined) {
      own = new Map();
      this.latestVms.set(hostId, own);
    }
    return own;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.flush(), this.deps.flushMs ?? 1_000);
    this.timer.unref();
  }

  /** Stops the timer and writes what is buffered. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Writes everything buffered so far; one flush at a time (a second call waits for the first, then writes). */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.pending === 0) return;
    this.flushing = this.writeBuffered().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async writeBuffered(): Promise<void> {
    const buffered = this.buffered;
    const latest = this.latestVms;
    this.buffered = { vm: [], host: [] };
    this.latestVms = new Map();
    let count = buffered.vm.length + buffered.host.length;
    const started = performance.now();
    try {
      const rows = this.stillKept({ vm: await this.owned(buffered.vm, latest), host: buffered.host });
      count = rows.vm.length + rows.host.length;
      try {
        await this.write(rows);
      } catch (err) {
        if (!isMissingPartition(err)) throw err;
        // A partition this replica had seen was dropped since (another replica's retention, its clock
        // ahead of ours): the whole flush failed on it. Look again and write once more.
        this.knownPartitions.clear();
        await this.write(rows);
      }
      this.stats.written += count;
    } catch (err) {
      this.stats.dropped.failed += count;
      this.knownPartitions.clear();
      this.deps.log.warn({ err, samples: count }, 'metrics: could not write samples; dropped them');
    } finally {
      this.stats.databaseMs += performance.now() - started;
    }
  }

  /**
   * The rows still inside the raw retention now: a sample accepted at its edge may have aged past it
   * while buffered, and retention may have dropped its partition since; one such row would fail the
   * whole flush. Those are counted as out of range, as at `accept`.
   */
  private stillKept(rows: Record<Subject, Row[]>): Record<Subject, Row[]> {
    const oldest = this.deps.clock.now().getTime() - this.deps.retention.raw;
    const kept = (list: Row[]) => {
      const young = list.filter((r) => r.atMs >= oldest);
      this.stats.dropped.outOfRange += list.length - young.length;
      return young;
    };
    return { vm: kept(rows.vm), host: kept(rows.host) };
  }

  private async write(rows: Record<Subject, Row[]>): Promise<void> {
    await this.ensurePartitions(rows);
    await this.deps.sql.begin(async (tx) => {
      // Read FOR SHARE: a rollup (FOR UPDATE) waits for this transaction, or this one for the rollup.
      const [state] = await tx<{ done_until: Date | null }[]>`
        select done_until from metric_rollup_state where tier = '1m' for share`;
      for (const subject of ['vm', 'host'] as const) {
        for (let i = 0; i < rows[subject].length; i += this.maxRows) {
          await insertRows(tx, subject, rows[subject].slice(i, i + this.maxRows));
        }
      }
      const doneUntil = state?.done_until?.getTime();
      if (doneUntil !== undefined) await markLate(tx, [...rows.vm, ...rows.host], doneUntil);
    });
  }

  /**
   * The VM rows whose sender holds the VM (after one catch-up of the cache, so a move or creation
   * committed before this flush counts); the others are counted and logged. Notes the kept gauges.
   */
  private async owned(rows: Row[], latest: Map<string, Map<string, VmSample>>): Promise<Row[]> {
    if (rows.length === 0) return rows;
    const { owners } = this.deps;
    await owners.catchUp();
    // Ids compared as values: the cache's and a stream's host id may be spelled differently.
    const holds = (hostId: string, vmId: string) => {
      const owner = owners.hostOf(vmId);
      return owner !== undefined && (owner === hostId || sameId(owner, hostId));
    };
    const kept: Row[] = [];
    let foreign: Map<string, string[]> | undefined;
    for (const r of rows) {
      if (holds(r.hostId, r.id)) kept.push(r);
      else {
        foreign ??= new Map();
        const ids = foreign.get(r.hostId);
        if (ids === undefined) foreign.set(r.hostId, [r.id]);
        else ids.push(r.id);
      }
    }
    for (const [hostId, samples] of latest) {
      for (const [vmId, sample] of samples) if (holds(hostId, vmId)) this.latest.noteVm(hostId, sample);
    }
    if (foreign !== undefined) this.noteForeign(foreign);
    return kept;
  }

  /** Counts samples of VMs their senders do not hold; logs each host at most once a minute. */
  private noteForeign(byHost: ReadonlyMap<string, readonly string[]>): void {
    const nowMs = this.deps.clock.now().getTime();
    for (const [sender, vmIds] of byHost) {
      this.stats.dropped.foreign += vmIds.length;
      const hostId = sender.toLowerCase();
      const logged = this.foreignLog.get(hostId) ?? { atMs: Number.NEGATIVE_INFINITY, unlogged: 0 };
      logged.unlogged += vmIds.length;
      this.foreignLog.set(hostId, logged);
      if (nowMs - logged.atMs < FOREIGN_LOG_MS) continue;
      this.deps.log.warn(
        { hostId, samples: logged.unlogged, vmIds: [...new Set(vmIds)].slice(0, FOREIGN_LOG_IDS) },
        'metrics: dropped samples of VMs this host does not hold (another host’s, or unknown)',
      );
      logged.atMs = nowMs;
      logged.unlogged = 0;
    }
  }

  /** Creates the raw partitions these rows need that this replica has not seen yet (normally none). */
  private async ensurePartitions(rows: Record<Subject, Row[]>): Promise<void> {
    for (const subject of ['vm', 'host'] as const) {
      const width = TIERS.raw.partitionMs;
      const starts = new Set(rows[subject].map((r) => floorTo(r.atMs, width)));
      const table = tableOf(subject, 'raw');
      const missing = [...starts].filter((s) => !this.knownPartitions.has(partitionName(table, s)));
      if (missing.length === 0) continue;
      await this.deps.sql.begin((tx) => createPartitions(tx, subject, 'raw', missing));
      for (const s of missing) this.knownPartitions.add(partitionName(table, s));
    }
  }
}

/** PostgreSQL's "no partition of relation … found for row" (check_violation on a partitioned table). */
function isMissingPartition(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return (
    e?.code === '23514' && typeof e.message === 'string' && e.message.startsWith('no partition of relation')
  );
}

const arrayText = (values: ReadonlyArray<string>): string => `{${values.join(',')}}`;
const numberText = (v: number | undefined): string =>
  v === undefined || !Number.isFinite(v) ? 'NULL' : String(v);

/** One INSERT of many rows: each column is one array parameter (as text), unnested by the server. */
async function insertRows(tx: Tx, subject: Subject, rows: readonly Row[]): Promise<void> {
  if (rows.length === 0) return;
  const metrics = subject === 'vm' ? VM_METRICS : HOST_METRICS;
  const columns = [`${subject}_id`, 'at', ...metrics.map((m) => m.name)];
  const casts = ['uuid', 'timestamptz', ...metrics.map(() => 'real')];
  const params = [
    arrayText(rows.map((r) => r.id)),
    arrayText(rows.map((r) => new Date(r.atMs).toISOString())),
    ...metrics.map((_, i) => arrayText(rows.map((r) => numberText(r.values[i])))),
  ];
  await tx.unsafe(
    `insert into ${tableOf(subject, 'raw')} (${columns.join(', ')})
     select * from unnest(${casts.map((cast, i) => `$${i + 1}::text::${cast}[]`).join(', ')})
     on conflict do nothing`,
    params,
  );
}

/** Minutes already rolled up that these rows fall in: the next rollup computes them again. */
async function markLate(tx: Tx, rows: readonly Row[], doneUntilMs: number): Promise<void> {
  const late = new Set<number>();
  for (const r of rows) if (r.atMs < doneUntilMs) late.add(floorTo(r.atMs, MINUTE));
  if (late.size === 0) return;
  const buckets = arrayText([...late].map((ms) => new Date(ms).toISOString()));
  await tx`
    insert into metric_rollup_pending (tier, bucket)
    select '1m', unnest(${buckets}::text::timestamptz[])
    on conflict do nothing`;
}
