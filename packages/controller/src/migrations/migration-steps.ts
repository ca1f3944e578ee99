import { type Command, CopyStorage, type Disk } from '@cockpit/proto';
import { type CommandOutcome, withdrawPendingCommand } from '../commands/command-queries.ts';
import type { CommandService } from '../commands/command-service.ts';
import type { Tx } from '../database/sql.ts';
import { findHost } from '../hosts/host-queries.ts';
import { uuidv7 } from '../ids.ts';
import { transitionOperation } from '../operations/operation-queries.ts';
import type { OperationStatus } from '../operations/operation-schema.ts';
import type { VmRecord } from '../vms/vm-record.ts';
import { moveVm, removeVms, upsertVms } from '../vms/vm-sync-queries.ts';
import { progressView } from './migration-progress.ts';
import {
  cancelsSent,
  type MigrationRow,
  storeDestinationRecord,
  updateMigration,
} from './migration-queries.ts';
import type { CopyStorageMode, MigrationProgressView, MigrationStatus } from './migration-schema.ts';

/** How long a step's command may wait for delivery before it expires (and the migration fails). */
export const MIGRATION_COMMAND_DEADLINE_MS = 60_000;
/**
 * How long the abandon of a failed whole-disk copy waits for its destination's agent (and the release of
 * one that completed unfollowed, for its source's): the migration has ended, nothing waits on it, and a
 * host that was away (rebooted, in maintenance) still has images to remove when it is back. Well within
 * the week its agent keeps the prepare's (perform's) record, which it reads.
 */
export const MIGRATION_ABANDON_DEADLINE_MS = 24 * 60 * 60_000;

/** A command written by a step, to be routed once its transaction committed. */
export interface Routed {
  hostId: string;
  commandId: string;
}

export interface StepResult {
  /** The row changed (the operation with it when its status did). */
  changed: boolean;
  routes: Routed[];
}

const OPERATION_STATUS: Record<MigrationStatus, OperationStatus> = {
  initiated: 'pending',
  preparing: 'running',
  migrating: 'running',
  completed: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

const WIRE_COPY_STORAGE: Record<CopyStorageMode, CopyStorage> = {
  none: CopyStorage.COPY_STORAGE_NONE,
  all: CopyStorage.COPY_STORAGE_ALL,
  inc: CopyStorage.COPY_STORAGE_INC,
};

const FINISHED_BADLY: ReadonlySet<string> = new Set(['failed', 'expired', 'cancelled']);
const UNFINISHED: ReadonlySet<string> = new Set(['pending', 'sent', 'running']);

/**
 * How long after the source's agent answered the perform `interrupted` the coordinator waits for news
 * of the VM before it asks the source to abort whatever migration job runs for it.
 */
export const INTERRUPTED_GRACE_MS = 30_000;
/** A cancel that failed while the job still runs is sent again, this many times in all, this far apart. */
export const MAX_CANCELS = 3;
export const CANCEL_RETRY_MS = 5_000;
/** The source's answer when no migration job runs for the VM any more (it completed or never started). */
const NO_MIGRATION_RUNNING = 'no_migration_running';
/** The source's answer when the migration completed before its abort took effect: the VM left. */
const MIGRATION_COMPLETED = 'migration_completed';

/** Whether a cancel goes to the source now: none sent yet, or the last one failed and a retry is due. */
async function cancelDue(last: CommandOutcome | undefined, tx: Tx, id: string, now: Date): Promise<boolean> {
  if (last === undefined) return true;
  if (UNFINISHED.has(last.status) || last.status === 'succeeded') return false;
  if (last.error_code === NO_MIGRATION_RUNNING || last.error_code === MIGRATION_COMPLETED) return false;
  if (last.finished_at !== null && now.getTime() - last.finished_at.getTime() < CANCEL_RETRY_MS) return false;
  return (await cancelsSent(tx, id)) < MAX_CANCELS;
}

const errorOf = (c: CommandOutcome, what: string) => ({
  code: c.error_code ?? (c.status === 'expired' ? 'deadline_exceeded' : 'unknown'),
  message: c.error_message ?? `the ${what} ended ${c.status} without details`,
});

/**
 * One step of a migration, decided from its row (locked, its lease checked by the caller) and what the
 * agents reported on its commands; it writes the next command and the new status in the caller's
 * transaction. Steps are idempotent: whichever coordinator holds the lease reads where things stand and
 * goes on from there, so a takeover settles a migration from what the agents report.
 */
export async function stepMigration(
  tx: Tx,
  m: MigrationRow,
  deps: { commands: CommandService; commandOf: (id: string | null) => CommandOutcome | undefined; now: Date },
): Promise<StepResult> {
  const { commands, commandOf, now } = deps;
  const routes: Routed[] = [];
  const unchanged: StepResult = { changed: false, routes };

  const move = async (
    set: Parameters<typeof updateMigration>[2],
    operation?: { error?: { code: string; message: string }; progress?: MigrationProgressView },
  ): Promise<StepResult> => {
    const row = await updateMigration(tx, m.id, set, now);
    if (set.status !== undefined && set.status !== m.status) {
      await transitionOperation(
        tx,
        m.id,
        { status: OPERATION_STATUS[set.status], error: operation?.error, progress: operation?.progress },
        now,
      );
    }
    return { changed: row !== null, routes };
  };

  const send = async (
    hostId: string | null,
    action: Command['action'],
    deadlineAfterMs = MIGRATION_COMMAND_DEADLINE_MS,
  ): Promise<string | null> => {
    if (hostId === null) return null;
    const commandId = uuidv7(now);
    await commands.enqueue(tx, {
      command: { commandId, deadlineMs: now.getTime() + deadlineAfterMs, action },
      hostId,
      operationId: m.id,
    });
    routes.push({ hostId, commandId });
    return commandId;
  };

  const sendCancel = () =>
    send(m.source_host_id, { $case: 'migrationCancel', value: { migrationId: m.id, vmId: m.vm_id } });

  /**
   * Ends it with the VM where it was: the source's report that it left (if any) now applies. When the
   * source no longer has the VM (it said so, or the host was deleted) while the destination reported it,
   * that report is all there is of the VM, and it is kept: never a VM that runs somewhere and is gone
   * from the API.
   */
  const endOnSource = async (status: 'failed' | 'cancelled', error: { code: string; message: string }) => {
    await storeDestinationRecord(tx, { id: m.id, record: null, now });
    if (m.source_removed_at !== null && m.source_host_id !== null) {
      await removeVms(tx, { pairs: [{ hostId: m.source_host_id, vmId: m.vm_id }] }, now);
    }
    const sourceLost = m.source_removed_at !== null || m.source_host_id === null;
    const keptOnDestination =
      sourceLost && m.destination_record !== null && m.destination_host_id !== null
        ? { hostId: m.destination_host_id, record: m.destination_record }
        : undefined;
    if (keptOnDestination !== undefined) await upsertVms(tx, [keptOnDestination], now);
    // A whole-disk copy that ended here leaves the images the destination created for it (its agent
    // checks again that the VM is not there and that no domain uses them before removing any).
    if (
      m.copy_storage === 'all' &&
      keptOnDestination === undefined &&
      m.prepare_command_id !== null &&
      commandOf(m.prepare_command_id)?.status === 'succeeded'
    ) {
      await send(
        m.destination_host_id,
        {
          $case: 'migrationAbandon',
          value: { migrationId: m.id, vmId: m.vm_id, prepareCommandId: m.prepare_command_id },
        },
        MIGRATION_ABANDON_DEADLINE_MS,
      );
    }
    return move({ status, error_code: error.code, error_message: error.message }, { error });
  };

  const hostGone = { code: 'host_deleted', message: 'the source or destination host was deleted' };
  if (m.source_host_id === null || m.destination_host_id === null) return endOnSource('failed', hostGone);

  switch (m.status) {
    case 'initiated': {
      if (m.cancel_requested_at !== null) {
        return endOnSource('cancelled', { code: 'cancelled', message: 'cancelled before it started' });
      }
      // With a storage copy, the destination readies an image for each disk (as the source reported them).
      const disks =
        m.copy_storage === 'none'
          ? []
          : ((await tx<{ disks: Disk[] }[]>`select disks from vms where id = ${m.vm_id}`)[0]?.disks ?? []);
      const prepare = await send(m.destination_host_id, {
        $case: 'migrationPrepare',
        value: {
          migrationId: m.id,
          vmId: m.vm_id,
          vmName: m.vm_name,
          copyStorage: WIRE_COPY_STORAGE[m.copy_storage],
          disks,
        },
      });
      return move({ status: 'preparing', prepare_command_id: prepare });
    }

    case 'preparing': {
      const prepared = commandOf(m.prepare_command_id);
      if (prepared !== undefined && FINISHED_BADLY.has(prepared.status)) {
        // Cancelled meanwhile (a whole-disk copy waits for its prepare's answer): cancelled it is.
        return endOnSource(
          m.cancel_requested_at !== null ? 'cancelled' : 'failed',
          errorOf(prepared, "destination's preparation"),
        );
      }
      if (m.cancel_requested_at !== null) {
        // A delivered prepare of a whole-disk copy may be creating images: its answer (seconds away) names
        // them, for the abandon to remove. One not delivered yet is withdrawn, never to run.
        const creating =
          m.copy_storage === 'all' &&
          prepared !== undefined &&
          UNFINISHED.has(prepared.status) &&
          !(
            prepared.status === 'pending' &&
            (await withdrawPendingCommand(tx, {
              id: prepared.id,
              reason: 'the migration was cancelled',
              now,
            }))
          );
        if (creating) return unchanged;
        return endOnSource('cancelled', {
          code: 'cancelled',
          message: 'cancelled while the destination prepared',
        });
      }
      if (prepared?.status !== 'succeeded') return unchanged;
      const answer = (prepared.result?.migrationPrepared ?? {}) as {
        connectUri?: string;
        migrateUri?: string;
        createdImages?: string[];
      };
      const connectUri = answer.connectUri ?? '';
      if (connectUri === '') {
        return endOnSource('failed', {
          code: 'no_connect_uri',
          message: 'the destination prepared but named no URI for the source to connect to',
        });
      }
      const perform = await send(m.source_host_id, {
        $case: 'migrationPerform',
        value: {
          migrationId: m.id,
          vmId: m.vm_id,
          destinationConnectUri: connectUri,
          destinationMigrateUri: answer.migrateUri ?? '',
          options: {
            live: m.live,
            persistent: m.persistent,
            undefineSource: m.undefine_source,
            copyStorage: WIRE_COPY_STORAGE[m.copy_storage],
            bandwidthMibps: Number(m.bandwidth_mibps),
            maxDowntimeMs: Number(m.max_downtime_ms),
            autoConverge: m.auto_converge,
            compression: m.compression,
            allowPostCopy: m.allow_post_copy,
            completionTimeoutS: m.completion_timeout_s,
          },
          // The source removes its copies of only these once the VM runs on the destination.
          destinationCreatedImages: answer.createdImages ?? [],
        },
      });
      return move({
        status: 'migrating',
        perform_command_id: perform,
        connect_uri: connectUri,
        migrate_uri: answer.migrateUri ?? '',
      });
    }

    case 'migrating': {
      const performed = commandOf(m.perform_command_id);
      if (performed === undefined) return unchanged;
      // The VM arrived once the destination reports it running (paused while it arrives; one that was
      // paused before arrives paused).
      const record = m.destination_record;
      const arrived =
        record !== null && (record.state !== 'paused' || m.vm_state === 'paused') ? record : null;
      const complete = async (to: VmRecord, final: unknown) => {
        // The VM moves host in this transaction: shown on the source before, on the destination after.
        await moveVm(tx, {
          vmId: m.vm_id,
          fromHostId: m.source_host_id as string,
          toHostId: m.destination_host_id as string,
          record: to,
          now,
        });
        // Stored under the destination also when the source's row was gone already.
        await upsertVms(tx, [{ hostId: m.destination_host_id as string, record: to }], now);
        await storeDestinationRecord(tx, { id: m.id, record: null, now });
        const progress =
          final === undefined ? undefined : progressView(final as Parameters<typeof progressView>[0]);
        if (progress !== undefined) {
          await tx`update migrations set progress = ${JSON.stringify(progress)}::text::jsonb where id = ${m.id}`;
        }
        // A source that followed its perform to the end removed the images the storage copy copied away;
        // one that did not (its agent restarted, or libvirt failed after the switch-over) is told to.
        if (m.copy_storage === 'all' && m.perform_command_id !== null && performed.status !== 'succeeded') {
          await send(
            m.source_host_id,
            {
              $case: 'migrationRelease',
              value: { migrationId: m.id, vmId: m.vm_id, performCommandId: m.perform_command_id },
            },
            MIGRATION_ABANDON_DEADLINE_MS,
          );
        }
        return move({ status: 'completed' }, { progress });
      };
      if (performed.status === 'succeeded') {
        return arrived === null ? unchanged : complete(arrived, performed.result?.migrationProgress);
      }
      // The source's agent restarted during the migration: libvirtd went on with it, and the agent
      // answers the perform `interrupted`. The journals tell how it ended: the VM running on the
      // destination and gone from the source, or the incoming VM gone from the destination while the
      // source still has it. Until then a cancel can still reach libvirt's job (found by VM id).
      const interrupted = performed.status === 'failed' && performed.error_code === 'interrupted';
      const cancel = commandOf(m.cancel_command_id);
      // The source answered a cancel (one that expired undelivered tells nothing).
      const cancelAnswered = cancel?.status === 'succeeded' || cancel?.status === 'failed';
      // ... and its answer says the VM stayed: not "the migration completed before the abort took effect",
      // after which the journals show it arrive on the destination.
      const stayedOnSource = cancelAnswered && cancel?.error_code !== MIGRATION_COMPLETED;
      if (interrupted) {
        if (arrived !== null && m.source_removed_at !== null) return complete(arrived, undefined);
        if (m.destination_seen_at !== null && record === null && m.source_removed_at === null) {
          return endOnSource(m.cancel_requested_at !== null ? 'cancelled' : 'failed', {
            code: 'interrupted',
            message:
              "the source's agent restarted during the migration; libvirt ended it with the VM still on the source",
          });
        }
        // A cancel after the restart (asked for, or the probe below): libvirt's job was aborted, or there
        // was none. Either way the VM did not leave the source.
        if (stayedOnSource && record === null && m.source_removed_at === null) {
          const outcome = cancel?.error_message ?? 'the job was aborted';
          return endOnSource(
            m.cancel_requested_at !== null ? 'cancelled' : 'failed',
            m.cancel_requested_at !== null
              ? { code: 'cancelled', message: `cancelled after the source's agent restarted (${outcome})` }
              : {
                  code: 'interrupted',
                  message: `the source's agent restarted before the migration could be followed, and the destination never saw the VM arrive; the VM stays on the source (${outcome})`,
                },
          );
        }
        // Nothing reported: the destination, connected, has not seen the VM arrive since the perform was
        // interrupted. Either libvirt never started the job (the agent died first) or it runs unseen; a
        // migration nobody reports on would stay `migrating` for ever, so past a grace period the source
        // aborts whatever job runs for the VM, and its answer settles the record (above).
        if (
          (cancel === undefined || !(cancelAnswered || UNFINISHED.has(cancel.status))) &&
          record === null &&
          m.destination_seen_at === null &&
          m.source_removed_at === null &&
          performed.finished_at !== null &&
          now.getTime() - performed.finished_at.getTime() >= INTERRUPTED_GRACE_MS &&
          (await findHost(tx, m.destination_host_id))?.status === 'connected'
        ) {
          return move({ cancel_command_id: await sendCancel() });
        }
      } else if (FINISHED_BADLY.has(performed.status)) {
        // The journals outrank the perform's answer: libvirt can report an error after the switch-over
        // (in its finish or confirm phase), with the VM running on the destination and gone from the source.
        if (arrived !== null && m.source_removed_at !== null) return complete(arrived, undefined);
        const error = errorOf(performed, 'migration');
        return endOnSource(m.cancel_requested_at !== null ? 'cancelled' : 'failed', error);
      }
      if (m.cancel_requested_at !== null) {
        // A perform never delivered is withdrawn: the source never hears of it.
        if (
          performed.status === 'pending' &&
          (await withdrawPendingCommand(tx, { id: performed.id, reason: 'the migration was cancelled', now }))
        ) {
          return endOnSource('cancelled', {
            code: 'cancelled',
            message: 'cancelled before the source started it',
          });
        }
        // Delivered: the source aborts the job (a cancel that arrives before the job started waits for it).
        // A cancel that failed is sent again while the job runs, a few times, paced.
        if (!interrupted && performed.status !== 'pending' && (await cancelDue(cancel, tx, m.id, now))) {
          return move({ cancel_command_id: await sendCancel() });
        }
        if (interrupted && cancel === undefined) return move({ cancel_command_id: await sendCancel() });
      }
      if (
        performed.status === 'running' &&
        m.force_complete_requested_at !== null &&
        m.force_complete_command_id === null
      ) {
        const force = await send(m.source_host_id, {
          $case: 'migrationForceComplete',
          value: { migrationId: m.id, vmId: m.vm_id },
        });
        return move({ force_complete_command_id: force });
      }
      return unchanged;
    }

    default:
      return unchanged;
  }
}
