import { randomUUID } from 'node:crypto';
import {
  type Command,
  CommandStatus,
  type CommandUpdate,
  CopyStorage,
  type Disk,
  type MigrationOptions,
  type MigrationProgress,
  type StateChange,
  vmRemovalReasonToJSON,
  vmStateToJSON,
} from '@cockpit/proto';
import type { ControllerSession } from './controller-session.ts';

/** The coordinator's side of a migration, scripted: sends the steps and reads what comes back. */

export const migrationOptions = (o: Partial<MigrationOptions> = {}): MigrationOptions => ({
  live: true,
  persistent: true,
  undefineSource: true,
  copyStorage: CopyStorage.COPY_STORAGE_NONE,
  bandwidthMibps: 0,
  maxDowntimeMs: 0,
  autoConverge: false,
  compression: false,
  allowPostCopy: false,
  completionTimeoutS: 0,
  ...o,
});

/** Sends `action` as a new command (or as `commandId`); returns the command id. */
export async function send(
  session: ControllerSession,
  action: Command['action'],
  commandId: string = randomUUID(),
): Promise<string> {
  await session.command({ commandId, deadlineMs: 0, action });
  return commandId;
}

export const prepareStep = (
  vmId: string,
  vmName: string,
  o: { migrationId?: string; copyStorage?: CopyStorage; disks?: Disk[] } = {},
): Command['action'] => ({
  $case: 'migrationPrepare',
  value: {
    migrationId: o.migrationId ?? randomUUID(),
    vmId,
    vmName,
    copyStorage: o.copyStorage ?? CopyStorage.COPY_STORAGE_NONE,
    disks: o.disks ?? [],
  },
});

export const performStep = (
  migrationId: string,
  vmId: string,
  destinationConnectUri: string,
  options: MigrationOptions = migrationOptions(),
  destinationCreatedImages: string[] = [],
): Command['action'] => ({
  $case: 'migrationPerform',
  value: {
    migrationId,
    vmId,
    destinationConnectUri,
    destinationMigrateUri: '',
    options,
    destinationCreatedImages,
  },
});

export const cancelStep = (migrationId: string, vmId: string): Command['action'] => ({
  $case: 'migrationCancel',
  value: { migrationId, vmId },
});

export const abandonStep = (
  migrationId: string,
  vmId: string,
  prepareCommandId: string,
): Command['action'] => ({
  $case: 'migrationAbandon',
  value: { migrationId, vmId, prepareCommandId },
});

export const forceCompleteStep = (migrationId: string, vmId: string): Command['action'] => ({
  $case: 'migrationForceComplete',
  value: { migrationId, vmId },
});

const isFinal = (u: CommandUpdate) =>
  u.status === CommandStatus.COMMAND_STATUS_SUCCEEDED || u.status === CommandStatus.COMMAND_STATUS_FAILED;

/** The command's final update (waits for it). */
export async function finalOf(session: ControllerSession, commandId: string, timeoutMs = 60_000) {
  return session.until(() => session.commandUpdates(commandId).find(isFinal), timeoutMs);
}

/** The progress of each RUNNING update of the command so far. */
export const progressOf = (session: ControllerSession, commandId: string): MigrationProgress[] =>
  session
    .commandUpdates(commandId)
    .flatMap((u) =>
      u.status === CommandStatus.COMMAND_STATUS_RUNNING && u.detail?.$case === 'migrationProgress'
        ? [u.detail.value]
        : [],
    );

/** Waits until the command reported progress that satisfies `match`. */
export const progressWhere = (
  session: ControllerSession,
  commandId: string,
  match: (p: MigrationProgress) => boolean = () => true,
  timeoutMs = 60_000,
) => session.until(() => progressOf(session, commandId).find(match), timeoutMs);

/** The state changes of one VM the session received, in order. */
export const changesOf = (session: ControllerSession, vmId: string): StateChange['change'][] =>
  session
    .changes()
    .map((c) => c.change)
    .filter((c) => (c?.$case === 'vmUpdated' || c?.$case === 'vmRemoved') && c.value.id === vmId);

/** A change as a short line: "running/migrated persistent", "removed MIGRATED". */
export function describeChange(change: StateChange['change']): string {
  if (change?.$case === 'vmRemoved') {
    return `removed ${vmRemovalReasonToJSON(change.value.reason).replace('VM_REMOVAL_REASON_', '')}`;
  }
  if (change?.$case !== 'vmUpdated') return String(change?.$case);
  const vm = change.value;
  const state = vmStateToJSON(vm.state).replace('VM_STATE_', '').toLowerCase();
  return `${state}/${vm.stateReason}${vm.persistent ? ' persistent' : ''}`;
}

/** Every change of one VM the session received, as short lines. */
export const historyOf = (session: ControllerSession, vmId: string): string[] =>
  changesOf(session, vmId).map(describeChange);
