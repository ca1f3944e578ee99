import type { HostInfo, StateChange, Vm } from '@cockpit/proto';
import type { Logger } from 'pino';
import { recordChanges } from '../changes/change-queries.ts';
import type { Clock } from '../clock.ts';
import { CodedError } from '../coded-error.ts';
import type { Sql, Tx } from '../database/sql.ts';
import { findHost, lockHostsInOrder, updateHostInfo } from '../hosts/host-queries.ts';
import { activeMigrationsOf, activeMigrationsOfHosts } from '../migrations/migration-queries.ts';
import { holdMigratingReports, holdMigratingSnapshot } from '../migrations/migration-sync.ts';
import { type VmRecord, vmRecordOf, vmRecordProblem } from '../vms/vm-record.ts';
import type { VmWrite } from '../vms/vm-store.ts';
import { type HostVm, type HostVmId, recordConflicts, removeVms, upsertVms } from '../vms/vm-sync-queries.ts';
import { createGroupQueue, type Settled } from './group-queue.ts';

/** The agent broke the sync rules (a gap in the cursors, a cursor going backwards, a bad record). */
export class SyncProtocolError extends CodedError<'protocol_error'> {
  constructor(message: string) {
    super('protocol_error', message);
  }
}
export const isSyncProtocolError = (err: unknown): err is SyncProtocolError =>
  err instanceof SyncProtocolError;

/** How an apply ended. Anything but `applied` wrote nothing. */
export type ApplyOutcome =
  | { kind: 'applied'; cursor: number }
  /** A newer stream holds the host: this one must stop. */
  | { kind: 'replaced' }
  /** The host was deleted meanwhile. */
  | { kind: 'gone' };

/** Who applies: the host and the epoch of the stream that holds it. */
export interface StreamOwner {
  hostId: string;
  epoch: number;
}

/**
 * Applies what agents report. Every apply advances `hosts.sync_cursor` conditionally on the stream still
 * owning the host (`stream_epoch`) and on the cursor continuing exactly, in the transaction that writes
 * the VMs, conflicts, host record and `changes` rows: nothing is lost or applied twice, and a replaced
 * stream can never apply anything.
 */
export interface SyncIngest {
  /** Consecutive journal entries, the first one right after the applied cursor. */
  applyBatch(owner: StreamOwner, changes: readonly StateChange[]): Promise<ApplyOutcome>;
  /** A whole snapshot: VMs of the host missing from it are gone from it. */
  applySnapshot(
    owner: StreamOwner,
    snapshot: { cursor: number; vms: readonly Vm[]; host: HostInfo | undefined },
  ): Promise<ApplyOutcome>;
}

/** Batches (or snapshots) applied together in one transaction (group commit) at most, in VMs. */
const MAX_GROUP_CHANGES = 5_000;
/** Transactions of batches at once: the rest of the pool stays free for REST and everything else. */
const MAX_GROUPS = 4;
/**
 * Transactions of snapshots at once. Snapshots come in floods (every agent after a controller restart)
 * and each one was ~7 round trips of its own: grouped, a flood of 1,000 costs tens of transactions.
 */
const MAX_SNAPSHOT_GROUPS = 2;

/** One host's batch, collapsed to its effect: the last record of each VM, removals, the host record. */
interface Batch {
  owner: StreamOwner;
  first: number;
  last: number;
  upserts: VmRecord[];
  removed: string[];
  host: HostInfo | undefined;
  size: number;
  settle: (result: Settled<ApplyOutcome>) => void;
}

/** One host's snapshot, checked: every VM it has now (by id), and its host record. */
interface Snapshot {
  owner: StreamOwner;
  cursor: number;
  records: Map<string, VmRecord>;
  host: HostInfo | undefined;
  size: number;
  settle: (result: Settled<ApplyOutcome>) => void;
}

/**
 * A stream's key: host and epoch. A stream applies one batch or snapshot at a time, so a host is in a
 * group twice only when a newer stream took it over while the older one's job still waited in the
 * queue; the cursor update matches the newer epoch alone, and only the job of that epoch is applied.
 */
const ownerKey = (owner: StreamOwner): string => `${owner.hostId} ${owner.epoch}`;
const ownersOf = (rows: ReadonlyArray<{ id: string; stream_epoch: string }>): Set<string> =>
  new Set(rows.map((r) => ownerKey({ hostId: r.id, epoch: Number(r.stream_epoch) })));

export function createSyncIngest({
  sql,
  clock,
  log,
  migrationsTouched = () => undefined,
  changesCommitted = () => undefined,
}: {
  sql: Sql;
  clock: Clock;
  log: Logger;
  /**
   * After each commit: the VM upserts it logged, with their change ids (the rest the reader finds in
   * the log), for this replica's cache to apply before the next read.
   */
  changesCommitted?: (writes: VmWrite[], at: Date) => void;
  /** After a commit that stored reports about migrating VMs: their coordinators are told. */
  migrationsTouched?: (migrationIds: string[]) => void;
}): SyncIngest {
  /** Why a conditional cursor update matched nothing: replaced, gone, or a protocol error (thrown). */
  async function refusal(owner: StreamOwner, describe: (applied: number) => string): Promise<ApplyOutcome> {
    const rows = await sql<{ stream_epoch: string; sync_cursor: string }[]>`
      select stream_epoch, sync_cursor from hosts where id = ${owner.hostId}`;
    const row = rows[0];
    if (row === undefined) return { kind: 'gone' };
    if (Number(row.stream_epoch) !== owner.epoch) return { kind: 'replaced' };
    throw new SyncProtocolError(describe(Number(row.sync_cursor)));
  }

  async function writeVms(tx: Tx, upserts: HostVm[], now: Date): Promise<VmWrite[]> {
    const { conflicts, changes } = await upsertVms(tx, upserts, now);
    if (conflicts.length === 0) return changes;
    const key = (v: HostVmId) => `${v.hostId} ${v.vmId}`;
    const conflicting = new Set(conflicts.map(key));
    const fresh = await recordConflicts(
      tx,
      upserts.filter((v) => conflicting.has(key({ hostId: v.hostId, vmId: v.record.id }))),
      now,
    );
    for (const { hostId, vmId } of fresh) {
      log.warn(
        { vmId, hostId },
        'two hosts report the same VM id: kept apart as a conflict, never merged (is it running twice?)',
      );
    }
    return changes;
  }

  /** Host records reported (host_updated, a snapshot's): stored, each logged as its view now reads. */
  async function writeHosts(
    tx: Tx,
    reports: ReadonlyArray<{ hostId: string; info: HostInfo }>,
    now: Date,
  ): Promise<void> {
    if (reports.length === 0) return;
    // The updates are sent first; the reads queued behind them see them (one round trip for all).
    const updated = reports.map((r) => updateHostInfo(tx, r.hostId, r.info, now));
    const views = await Promise.all(reports.map((r) => findHost(tx, r.hostId)));
    await Promise.all(updated);
    await recordChanges(
      tx,
      now,
      views.flatMap((view) =>
        view === null
          ? []
          : [{ kind: 'host' as const, entityId: view.id, op: 'upsert' as const, data: view }],
      ),
    );
  }

  /** The host records that a group's applied jobs carry, for writeHosts. */
  const hostReports = (jobs: ReadonlyArray<{ owner: StreamOwner; host: HostInfo | undefined }>) =>
    jobs.flatMap((j) => (j.host === undefined ? [] : [{ hostId: j.owner.hostId, info: j.host }]));

  /**
   * After a group's commit: this replica's cache gets the VM writes, the coordinators of the migrations
   * touched are told, and each job gets its outcome (why, for those whose cursor update matched nothing).
   */
  function afterCommit<J extends { owner: StreamOwner }>(
    jobs: readonly J[],
    committed: { ids: ReadonlySet<string>; touched: string[]; changes: VmWrite[] },
    now: Date,
    cursorOf: (job: J) => number,
    describe: (job: J, applied: number) => string,
  ): Promise<Settled<ApplyOutcome>[]> {
    changesCommitted(committed.changes, now);
    if (committed.touched.length > 0) migrationsTouched(committed.touched);
    return Promise.all(
      jobs.map(async (job) => {
        if (committed.ids.has(ownerKey(job.owner)))
          return { outcome: { kind: 'applied', cursor: cursorOf(job) } as const };
        try {
          return { outcome: await refusal(job.owner, (applied) => describe(job, applied)) };
        } catch (error) {
          return { error };
        }
      }),
    );
  }

  /**
   * Applies batches of different hosts in one transaction: one conditional cursor update for all of
   * them, then the VMs of those it advanced. Returns each batch's outcome (or its protocol error).
   */
  async function applyGroup(batches: Batch[]): Promise<Settled<ApplyOutcome>[]> {
    const now = clock.now();
    const advanced = await sql.begin(async (tx) => {
      // Host rows are locked in id order, as touchLastSeen locks them: in whatever order the update's
      // plan met them, a group and the last-seen flush deadlocked under load (seen in bench:sync).
      // The three statements are sent at once, in this order (pipelined: one round trip); the
      // migrations are read for every batch's VMs, applied or not, and filtered below.
      const lock = lockHostsInOrder(
        tx,
        batches.map((b) => b.owner.hostId),
      );
      const advance = tx<{ id: string; stream_epoch: string }[]>`
        update hosts set sync_cursor = b.last, updated_at = ${now}
        from unnest(${batches.map((b) => b.owner.hostId)}::uuid[], ${batches.map((b) => b.owner.epoch)}::bigint[],
                    ${batches.map((b) => b.first)}::bigint[], ${batches.map((b) => b.last)}::bigint[])
             as b (id, epoch, first, last)
        where hosts.id = b.id and hosts.stream_epoch = b.epoch and hosts.sync_cursor = b.first - 1
        returning hosts.id, hosts.stream_epoch`.execute();
      const migrations = activeMigrationsOf(
        tx,
        batches.flatMap((b) => [...b.upserts.map((u) => u.id), ...b.removed]),
      );
      const [, rows, migrating] = await Promise.all([lock, advance, migrations]);
      const ids = ownersOf(rows);
      const applied = batches.filter((b) => ids.has(ownerKey(b.owner)));
      // Reports about VMs being migrated wait in their migration's row (src/migrations/migration-sync.ts).
      const { reports, touched } = await holdMigratingReports(
        tx,
        applied.map((b) => ({ hostId: b.owner.hostId, upserts: b.upserts, removed: b.removed })),
        now,
        migrating,
      );
      await removeVms(
        tx,
        { pairs: reports.flatMap((r) => r.removed.map((vmId) => ({ hostId: r.hostId, vmId }))) },
        now,
      );
      const changes = await writeVms(
        tx,
        reports.flatMap((r) => r.upserts.map((record) => ({ hostId: r.hostId, record }))),
        now,
      );
      await writeHosts(tx, hostReports(applied), now);
      return { ids, touched, changes };
    });
    return afterCommit(
      batches,
      advanced,
      now,
      (b) => b.last,
      (b, applied) =>
        `StateBatch starts at cursor ${b.first}; the next one after ${applied} is ${applied + 1}`,
    );
  }

  /**
   * Applies snapshots of different hosts in one transaction: one conditional cursor update for all of
   * them (a snapshot may repeat the applied cursor, never go behind it), then, for those it advanced,
   * the reconciliation (every VM of the host it no longer has is gone), the records and the host records.
   */
  async function applySnapshots(snapshots: Snapshot[]): Promise<Settled<ApplyOutcome>[]> {
    const now = clock.now();
    const hostIds = snapshots.map((s) => s.owner.hostId);
    const advanced = await sql.begin(async (tx) => {
      // In host id order, as group commits and the last-seen flush lock them; then the cursors and the
      // hosts' migrations, all three sent at once (one round trip).
      const lock = lockHostsInOrder(tx, hostIds);
      const advance = tx<{ id: string; stream_epoch: string }[]>`
        update hosts set sync_cursor = s.cursor, updated_at = ${now}
        from unnest(${hostIds}::uuid[], ${snapshots.map((s) => s.owner.epoch)}::bigint[],
                    ${snapshots.map((s) => s.cursor)}::bigint[]) as s (id, epoch, cursor)
        where hosts.id = s.id and hosts.stream_epoch = s.epoch and hosts.sync_cursor <= s.cursor
        returning hosts.id, hosts.stream_epoch`.execute();
      const [, rows, migrating] = await Promise.all([lock, advance, activeMigrationsOfHosts(tx, hostIds)]);
      const ids = ownersOf(rows);
      const applied = snapshots.filter((s) => ids.has(ownerKey(s.owner)));
      const touched: string[] = [];
      const reconcile: Array<{ hostId: string; keep: string[] }> = [];
      const writes: HostVm[] = [];
      for (const s of applied) {
        const hostId = s.owner.hostId;
        // Reports about VMs being migrated wait in their migration's row (src/migrations/migration-sync.ts).
        const held = await holdMigratingSnapshot(tx, hostId, s.records, now, migrating);
        touched.push(...held.touched);
        reconcile.push({ hostId, keep: [...s.records.keys(), ...held.keep] });
        for (const record of held.records) writes.push({ hostId, record });
      }
      await removeVms(tx, { hosts: reconcile }, now);
      const changes = await writeVms(tx, writes, now);
      await writeHosts(tx, hostReports(applied), now);
      return { ids, touched, changes };
    });
    return afterCommit(
      snapshots,
      advanced,
      now,
      (s) => s.cursor,
      (s, applied) => `snapshot at cursor ${s.cursor} is behind the applied cursor ${applied}`,
    );
  }

  const queueBatch = createGroupQueue<Batch, ApplyOutcome>({
    maxGroups: MAX_GROUPS,
    maxSize: MAX_GROUP_CHANGES,
    apply: applyGroup,
    log,
    what: 'batches',
  });
  const queueSnapshot = createGroupQueue<Snapshot, ApplyOutcome>({
    maxGroups: MAX_SNAPSHOT_GROUPS,
    maxSize: MAX_GROUP_CHANGES,
    apply: applySnapshots,
    log,
    what: 'snapshots',
  });

  return {
    applyBatch(owner, changes) {
      const first = changes[0]?.cursor;
      const last = changes.at(-1)?.cursor;
      if (first === undefined || last === undefined) throw new SyncProtocolError('an empty StateBatch');
      // The latest report of each VM wins; a removal after an update removes.
      const vms = new Map<string, VmRecord | null>();
      let host: HostInfo | undefined;
      changes.forEach((change, i) => {
        if (change.cursor !== first + i) {
          throw new SyncProtocolError(
            `StateBatch cursors must be consecutive: ${change.cursor} follows ${first + i - 1}`,
          );
        }
        const c = change.change;
        if (c?.$case === 'vmUpdated') {
          const problem = vmRecordProblem(c.value);
          if (problem !== undefined) throw new SyncProtocolError(`change ${change.cursor}: ${problem}`);
          const record = vmRecordOf(c.value);
          vms.delete(record.id);
          vms.set(record.id, record);
        } else if (c?.$case === 'vmRemoved') {
          const problem = vmRecordProblem({ id: c.value.id, name: c.value.name || '-' });
          if (problem !== undefined) throw new SyncProtocolError(`change ${change.cursor}: ${problem}`);
          vms.set(c.value.id.toLowerCase(), null);
        } else if (c?.$case === 'hostUpdated') {
          host = c.value;
        }
      });
      return new Promise<ApplyOutcome>((resolve, reject) => {
        queueBatch({
          owner: { hostId: owner.hostId.toLowerCase(), epoch: owner.epoch },
          first,
          last,
          upserts: [...vms.values()].filter((r): r is VmRecord => r !== null),
          removed: [...vms].filter(([, r]) => r === null).map(([id]) => id),
          host,
          size: vms.size + 1,
          settle: (result) => ('outcome' in result ? resolve(result.outcome) : reject(result.error)),
        });
      });
    },

    async applySnapshot(owner, snapshot) {
      const records = new Map<string, VmRecord>();
      for (const vm of snapshot.vms) {
        const problem = vmRecordProblem(vm);
        if (problem !== undefined) throw new SyncProtocolError(`snapshot: ${problem}`);
        const record = vmRecordOf(vm);
        records.set(record.id, record);
      }
      return new Promise<ApplyOutcome>((resolve, reject) => {
        queueSnapshot({
          owner: { hostId: owner.hostId.toLowerCase(), epoch: owner.epoch },
          cursor: snapshot.cursor,
          records,
          host: snapshot.host,
          size: records.size + 1,
          settle: (result) => ('outcome' in result ? resolve(result.outcome) : reject(result.error)),
        });
      });
    },
  };
}
