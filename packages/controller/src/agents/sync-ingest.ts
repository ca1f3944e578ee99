import type { HostInfo, StateChange, Vm } from '@cockpit/proto';
import type { Logger } from 'pino';
import { recordChanges } from '../changes/change-queries.ts';
import type { Clock } from '../clock.ts';
import { CodedError } from '../coded-error.ts';
import type { Sql, Tx } from '../database/sql.ts';
import { findHost, lockHostsInOrder, updateHostInfo } from '../hosts/host-queries.ts';
import { activeMigrationsOf } from '../migrations/migration-queries.ts';
import {
  holdMigratingReports,
  holdMigratingSnapshot,
  readMigratingOf,
} from '../migrations/migration-sync.ts';
import { type VmRecord, vmRecordOf, vmRecordProblem } from '../vms/vm-record.ts';
import type { VmWrite } from '../vms/vm-store.ts';
import { type HostVm, type HostVmId, recordConflicts, removeVms, upsertVms } from '../vms/vm-sync-queries.ts';

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

/** Batches applied together in one transaction (group commit) at most, counted in changes. */
const MAX_GROUP_CHANGES = 5_000;
/** Transactions of batches at once: the rest of the pool stays free for REST and everything else. */
const MAX_GROUPS = 4;

/** One host's batch, collapsed to its effect: the last record of each VM, removals, the host record. */
interface Batch {
  owner: StreamOwner;
  first: number;
  last: number;
  upserts: VmRecord[];
  removed: string[];
  host: HostInfo | undefined;
  size: number;
  settle: (result: { outcome: ApplyOutcome } | { error: unknown }) => void;
}

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
  const queue: Batch[] = [];
  let groups = 0;

  /** Why a conditional cursor update matched nothing: replaced, gone, or a protocol error (thrown). */
  async function refusal(
    db: Sql | Tx,
    owner: StreamOwner,
    describe: (applied: number) => string,
  ): Promise<ApplyOutcome> {
    const rows = await db<{ stream_epoch: string; sync_cursor: string }[]>`
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

  async function writeHost(tx: Tx, hostId: string, info: HostInfo, now: Date): Promise<void> {
    // The update is sent first; the read queued behind it sees it (one round trip for both).
    const updated = updateHostInfo(tx, hostId, info, now);
    const view = await findHost(tx, hostId);
    await updated;
    if (view !== null) {
      await recordChanges(tx, now, [{ kind: 'host', entityId: hostId, op: 'upsert', data: view }]);
    }
  }

  /**
   * Applies batches of different hosts in one transaction: one conditional cursor update for all of
   * them, then the VMs of those it advanced. Returns each batch's outcome (or its protocol error).
   */
  async function applyGroup(
    batches: Batch[],
  ): Promise<Array<{ outcome: ApplyOutcome } | { error: unknown }>> {
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
      const advance = tx<{ id: string }[]>`
        update hosts set sync_cursor = b.last, updated_at = ${now}
        from unnest(${batches.map((b) => b.owner.hostId)}::uuid[], ${batches.map((b) => b.owner.epoch)}::bigint[],
                    ${batches.map((b) => b.first)}::bigint[], ${batches.map((b) => b.last)}::bigint[])
             as b (id, epoch, first, last)
        where hosts.id = b.id and hosts.stream_epoch = b.epoch and hosts.sync_cursor = b.first - 1
        returning hosts.id`.execute();
      const migrations = activeMigrationsOf(
        tx,
        batches.flatMap((b) => [...b.upserts.map((u) => u.id), ...b.removed]),
      );
      const [, rows, migrating] = await Promise.all([lock, advance, migrations]);
      const ids = new Set(rows.map((r) => r.id));
      const applied = batches.filter((b) => ids.has(b.owner.hostId));
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
      for (const b of applied) if (b.host !== undefined) await writeHost(tx, b.owner.hostId, b.host, now);
      return { ids, touched, changes };
    });
    changesCommitted(advanced.changes, now);
    if (advanced.touched.length > 0) migrationsTouched(advanced.touched);
    return Promise.all(
      batches.map(async (b) => {
        if (advanced.ids.has(b.owner.hostId))
          return { outcome: { kind: 'applied', cursor: b.last } as const };
        try {
          return {
            outcome: await refusal(
              sql,
              b.owner,
              (applied) =>
                `StateBatch starts at cursor ${b.first}; the next one after ${applied} is ${applied + 1}`,
            ),
          };
        } catch (error) {
          return { error };
        }
      }),
    );
  }

  async function runGroup(batches: Batch[]): Promise<void> {
    try {
      const results = await applyGroup(batches);
      for (const [i, b] of batches.entries()) b.settle(results[i] ?? { error: new Error('no result') });
    } catch (err) {
      if (batches.length === 1) {
        batches[0]?.settle({ error: err });
        return;
      }
      // A failed group (a deadlock with another one, a lost connection) fails none of its batches by
      // itself: each is tried again on its own.
      log.warn({ err, batches: batches.length }, 'a group of batches failed; applying them one by one');
      for (const b of batches) {
        try {
          const [result] = await applyGroup([b]);
          b.settle(result ?? { error: new Error('no result') });
        } catch (error) {
          b.settle({ error });
        }
      }
    }
  }

  /**
   * Starts transactions for what is queued, up to MAX_GROUPS at once. At low load each batch gets its
   * own at once; under load, batches wait for a slot and then go together: the transaction count stays
   * flat while the changes per transaction grow. A host has one batch in flight at most (its stream
   * waits for the outcome), so two groups never touch the same host.
   */
  function pump(): void {
    while (groups < MAX_GROUPS && queue.length > 0) {
      const group: Batch[] = [];
      let size = 0;
      while (queue.length > 0 && (group.length === 0 || size + (queue[0]?.size ?? 0) <= MAX_GROUP_CHANGES)) {
        const b = queue.shift() as Batch;
        group.push(b);
        size += b.size;
      }
      groups += 1;
      void runGroup(group).finally(() => {
        groups -= 1;
        pump();
      });
    }
  }

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
        queue.push({
          owner: { hostId: owner.hostId.toLowerCase(), epoch: owner.epoch },
          first,
          last,
          upserts: [...vms.values()].filter((r): r is VmRecord => r !== null),
          removed: [...vms].filter(([, r]) => r === null).map(([id]) => id),
          host,
          size: vms.size + 1,
          settle: (result) => ('outcome' in result ? resolve(result.outcome) : reject(result.error)),
        });
        pump();
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
      const now = clock.now();
      let touched: string[] = [];
      let changes: VmWrite[] = [];
      const outcome = await sql.begin(async (tx) => {
        // Sent together, in this order (one round trip): the cursor, then the host's migrations.
        const advance = tx`
          update hosts set sync_cursor = ${snapshot.cursor}, updated_at = ${now}
          where id = ${owner.hostId} and stream_epoch = ${owner.epoch} and sync_cursor <= ${snapshot.cursor}`.execute();
        const [advanced, migrating] = await Promise.all([advance, readMigratingOf(tx, owner.hostId)]);
        if (advanced.count === 0) {
          return refusal(
            tx,
            owner,
            (applied) => `snapshot at cursor ${snapshot.cursor} is behind the applied cursor ${applied}`,
          );
        }
        const held = await holdMigratingSnapshot(tx, owner.hostId, records, now, migrating);
        touched = held.touched;
        await removeVms(tx, { hostId: owner.hostId, except: [...records.keys(), ...held.keep] }, now);
        changes = await writeVms(
          tx,
          held.records.map((record) => ({ hostId: owner.hostId, record })),
          now,
        );
        if (snapshot.host !== undefined) await writeHost(tx, owner.hostId, snapshot.host, now);
        return { kind: 'applied', cursor: snapshot.cursor } as const;
      });
      if (outcome.kind === 'applied') changesCommitted(changes, now);
      if (touched.length > 0) migrationsTouched(touched);
      return outcome as ApplyOutcome;
    },
  };
}
