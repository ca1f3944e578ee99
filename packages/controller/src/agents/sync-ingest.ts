import type { HostInfo, StateChange, Vm } from '@cockpit/proto';
import type { Logger } from 'pino';
import { recordChanges } from '../changes/change-queries.ts';
import type { Clock } from '../clock.ts';
import { CodedError } from '../coded-error.ts';
import type { Sql, Tx } from '../database/sql.ts';
import { findHost, updateHostInfo } from '../hosts/host-queries.ts';
import { type VmRecord, vmRecordOf, vmRecordProblem } from '../vms/vm-record.ts';
import { recordConflicts, removeVms, upsertVms } from '../vms/vm-sync-queries.ts';

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
 * Applies what an agent reports. Each call is one transaction that first advances `hosts.sync_cursor`
 * conditionally on the stream still owning the host (`stream_epoch`) and on the cursor continuing
 * exactly, then writes the VMs, conflicts, host record and `changes` rows: nothing is lost or applied
 * twice, and a replaced stream can never apply anything.
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

export function createSyncIngest({ sql, clock, log }: { sql: Sql; clock: Clock; log: Logger }): SyncIngest {
  /** Why the conditional cursor update matched nothing. */
  async function refusal(
    tx: Tx,
    owner: StreamOwner,
    describe: (applied: number) => string,
  ): Promise<ApplyOutcome> {
    const rows = await tx<{ stream_epoch: string; sync_cursor: string }[]>`
      select stream_epoch, sync_cursor from hosts where id = ${owner.hostId}`;
    const row = rows[0];
    if (row === undefined) return { kind: 'gone' };
    if (Number(row.stream_epoch) !== owner.epoch) return { kind: 'replaced' };
    throw new SyncProtocolError(describe(Number(row.sync_cursor)));
  }

  async function writeVms(tx: Tx, hostId: string, upserts: VmRecord[], now: Date): Promise<void> {
    const { conflicts } = await upsertVms(tx, hostId, upserts, now);
    if (conflicts.length === 0) return;
    const conflicting = new Set(conflicts);
    const fresh = await recordConflicts(
      tx,
      hostId,
      upserts.filter((r) => conflicting.has(r.id)),
      now,
    );
    for (const vmId of fresh) {
      log.warn(
        { vmId, hostId },
        'two hosts report the same VM id: kept apart as a conflict, never merged (is it running twice?)',
      );
    }
  }

  async function writeHost(tx: Tx, hostId: string, info: HostInfo, now: Date): Promise<void> {
    await updateHostInfo(tx, hostId, info, now);
    const view = await findHost(tx, hostId);
    if (view !== null)
      await recordChanges(tx, now, [{ kind: 'host', entityId: hostId, op: 'upsert', data: view }]);
  }

  return {
    async applyBatch(owner, changes) {
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
      const now = clock.now();
      return sql.begin(async (tx) => {
        const advanced = await tx`
          update hosts set sync_cursor = ${last}, updated_at = ${now}
          where id = ${owner.hostId} and stream_epoch = ${owner.epoch} and sync_cursor = ${first - 1}`;
        if (advanced.count === 0) {
          return refusal(
            tx,
            owner,
            (applied) =>
              `StateBatch starts at cursor ${first}; the next one after ${applied} is ${applied + 1}`,
          );
        }
        const removed = [...vms].filter(([, r]) => r === null).map(([id]) => id);
        await removeVms(tx, owner.hostId, { only: removed }, now);
        const upserts = [...vms.values()].filter((r): r is VmRecord => r !== null);
        await writeVms(tx, owner.hostId, upserts, now);
        if (host !== undefined) await writeHost(tx, owner.hostId, host, now);
        return { kind: 'applied', cursor: last } as const;
      }) as Promise<ApplyOutcome>;
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
      return sql.begin(async (tx) => {
        const advanced = await tx`
          update hosts set sync_cursor = ${snapshot.cursor}, updated_at = ${now}
          where id = ${owner.hostId} and stream_epoch = ${owner.epoch} and sync_cursor <= ${snapshot.cursor}`;
        if (advanced.count === 0) {
          return refusal(
            tx,
            owner,
            (applied) => `snapshot at cursor ${snapshot.cursor} is behind the applied cursor ${applied}`,
          );
        }
        await removeVms(tx, owner.hostId, { except: [...records.keys()] }, now);
        await writeVms(tx, owner.hostId, [...records.values()], now);
        if (snapshot.host !== undefined) await writeHost(tx, owner.hostId, snapshot.host, now);
        return { kind: 'applied', cursor: snapshot.cursor } as const;
      }) as Promise<ApplyOutcome>;
    },
  };
}
