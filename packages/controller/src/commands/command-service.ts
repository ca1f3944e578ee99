import { type Command, CommandStatus, type CommandUpdate } from '@cockpit/proto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Sql, Tx } from '../database/sql.ts';
import { progressView } from '../migrations/migration-progress.ts';
import { storeProgress } from '../migrations/migration-queries.ts';
import type { Notifier } from '../notifier/notifier.ts';
import { transitionOperation } from '../operations/operation-queries.ts';
import type { OperationKind } from '../operations/operation-schema.ts';
import {
  type CommandRow,
  cancelCommandsOfVmOperations,
  claimCommand,
  claimUnfinishedCommands,
  expireOverdueCommands,
  finishCommand,
  insertCommand,
  markCommandRunning,
} from './command-queries.ts';

/** How long a sent command may stay unanswered past its deadline before it counts as never delivered. */
export const SENT_GRACE_MS = 30_000;

/**
 * Commands to agents: rows written before they are sent, routed to the replica holding the host's
 * stream (the notifier's `commands` topic: LISTEN/NOTIFY between replicas, in-process on the embedded
 * database), sent again on every reconnect until the agent reports a final outcome, which is applied
 * once together with the operation the command serves.
 */
export interface CommandService {
  /** Writes the command row, inside the caller's transaction (with its operation). */
  enqueue(tx: Tx, input: { command: Command; hostId: string; operationId: string | null }): Promise<void>;
  /** After that transaction committed: asks the replica holding the host's stream to send it. */
  route(hostId: string, commandId: string): Promise<void>;
  /** Called by the replica holding the stream: the command if it is still to be sent (pending → sent). */
  claim(hostId: string, commandId: string): Promise<Command | null>;
  /** Every unfinished command of a host, for a stream that just took it. */
  claimUnfinished(hostId: string): Promise<Command[]>;
  /** An update from the host's agent: the command and its operation move on together. */
  applyUpdate(hostId: string, update: CommandUpdate): Promise<void>;
  /** Commands past their deadline that can no longer run: expired, their operations failed. */
  expireOverdue(): Promise<number>;
  /**
   * Inside the caller's transaction: the VM's unfinished power operation of one of `kinds` and its command
   * end as cancelled with `error` (a forced stop overrules a graceful one). Returns the operations it
   * ended, for `announce` after the commit.
   */
  cancelPower(
    tx: Tx,
    input: { vmId: string; kinds: readonly OperationKind[]; error: { code: string; message: string } },
  ): Promise<string[]>;
  /** After the commit of `cancelPower`: wakes whoever waits on these operations. */
  announce(operationIds: readonly string[]): void;
}

export function createCommandService(deps: {
  sql: Sql;
  clock: Clock;
  notifier: Notifier;
  log: Logger;
}): CommandService {
  const { sql, clock, notifier, log } = deps;

  /** The operation a power command serves follows the command. (A migration's is driven by its coordinator.) */
  async function followCommand(
    tx: Tx,
    command: CommandRow,
    transition: Parameters<typeof transitionOperation>[2],
  ): Promise<boolean> {
    if (command.operation_id === null || command.kind !== 'power') return false;
    return (await transitionOperation(tx, command.operation_id, transition, clock.now())) !== null;
  }

  const operationChanged = (id: string | null) => {
    if (id !== null)
      void notifier.publish('operations', id).catch((err) => log.warn({ err }, 'notify failed'));
  };

  /** A migration's steps are commands too: its coordinator (on whichever replica) hears of each outcome. */
  const isMigrationStep = (command: CommandRow) => command.kind.startsWith('migration');
  const migrationChanged = (ids: Array<string | null>) => {
    for (const id of new Set(ids)) {
      if (id !== null)
        void notifier.publish('migrations', id).catch((err) => log.warn({ err }, 'notify failed'));
    }
  };

  return {
    enqueue: (tx, input) => insertCommand(tx, { ...input, now: clock.now() }),

    // After the commit: a failed signal must not turn an action taken into an error for its caller; the
    // holding replica's poll of pending commands (every few seconds) sends it anyway.
    route: (hostId, commandId) =>
      notifier
        .publish('commands', `${hostId} ${commandId}`)
        .catch((err: unknown) =>
          log.warn({ err, hostId, commandId }, 'notify failed; the pending-command poll sends it'),
        ),

    claim: (hostId, commandId) => claimCommand(sql, { id: commandId, hostId, now: clock.now() }),

    claimUnfinished: (hostId) => claimUnfinishedCommands(sql, { hostId, now: clock.now() }),

    async applyUpdate(hostId, update) {
      const id = update.commandId.toLowerCase();
      const now = clock.now();
      const changed = await sql.begin(async (tx) => {
        switch (update.status) {
          case CommandStatus.COMMAND_STATUS_ACCEPTED:
          case CommandStatus.COMMAND_STATUS_RUNNING: {
            const row = await markCommandRunning(tx, { id, hostId });
            if (row === null) return null;
            if (isMigrationStep(row)) {
              // The source's job statistics, about once a second: stored on the migration and its operation.
              // Its coordinator hears of it only when it has something to do (about once a second otherwise).
              if (update.detail?.$case === 'migrationProgress' && row.kind === 'migrationPerform') {
                const progress = progressView(update.detail.value);
                const stored = await storeProgress(tx, { performCommandId: id, progress, now });
                if (stored === null) return { operation: null, migration: row.operation_id };
                await transitionOperation(tx, stored.id, { status: 'running', progress }, now);
                return { operation: stored.id, migration: stored.requestWaiting ? stored.id : null };
              }
              return { operation: null, migration: row.operation_id };
            }
            const changed = await followCommand(tx, row, { status: 'running' });
            return { operation: changed ? row.operation_id : null, migration: null };
          }
          case CommandStatus.COMMAND_STATUS_SUCCEEDED:
          case CommandStatus.COMMAND_STATUS_FAILED: {
            const failed = update.status === CommandStatus.COMMAND_STATUS_FAILED;
            const error = failed
              ? {
                  code: update.error?.code || 'unknown',
                  message: update.error?.message || 'the agent reported a failure without details',
                }
              : undefined;
            const row = await finishCommand(tx, {
              id,
              hostId,
              status: failed ? 'failed' : 'succeeded',
              error,
              result:
                update.detail === undefined ? undefined : { [update.detail.$case]: update.detail.value },
              now,
            });
            if (row === null) {
              log.info({ commandId: id, hostId }, 'a final update for a command already final: ignored');
              return null;
            }
            if (isMigrationStep(row)) return { operation: null, migration: row.operation_id };
            const changed = await followCommand(tx, row, { status: failed ? 'failed' : 'succeeded', error });
            return { operation: changed ? row.operation_id : null, migration: null };
          }
          default:
            log.warn(
              { commandId: id, status: update.status },
              'command update with an unknown status: ignored',
            );
            return null;
        }
      });
      operationChanged(changed?.operation ?? null);
      migrationChanged([changed?.migration ?? null]);
    },

    async cancelPower(tx, input) {
      const now = clock.now();
      const ids = await cancelCommandsOfVmOperations(tx, { ...input, now });
      for (const id of ids) {
        await transitionOperation(tx, id, { status: 'cancelled', error: input.error }, now);
      }
      return ids;
    },

    announce(operationIds) {
      for (const id of operationIds) operationChanged(id);
    },

    async expireOverdue() {
      const now = clock.now();
      let migrations: Array<string | null> = [];
      const operations = await sql.begin(async (tx) => {
        const expired = await expireOverdueCommands(tx, { now, graceMs: SENT_GRACE_MS });
        const changed: string[] = [];
        migrations = expired.filter(isMigrationStep).map((row) => row.operation_id);
        for (const row of expired) {
          const moved = await followCommand(tx, row, {
            status: 'failed',
            error: { code: 'deadline_exceeded', message: row.error_message },
          });
          if (moved && row.operation_id !== null) changed.push(row.operation_id);
        }
        return changed;
      });
      for (const id of operations) operationChanged(id);
      migrationChanged(migrations);
      return operations.length + migrations.length;
    },
  };
}
