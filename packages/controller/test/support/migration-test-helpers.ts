import { randomUUID } from 'node:crypto';
import { CommandStatus, type MigrationProgress, VmState } from '@cockpit/proto';
import { expect } from 'vitest';
import type { MigrationView } from '../../src/migrations/migration-schema.ts';
import { eventually, joinedHost, targetOf } from './agent-test-helpers.ts';
import { type ControllerTarget, ScriptedAgent, vm } from './scripted-agent.ts';
import type { TestApp } from './test-app.ts';

/** A host with its scripted agent connected. */
export interface ScriptedHost {
  hostId: string;
  credential: string;
  agent: ScriptedAgent;
}

/** Two connected hosts; a running VM on the first. Agents connect to `target` (default: the app's). */
export async function twoHostsWithVm(
  t: TestApp,
  admin: string,
  name: string,
  target: ControllerTarget = targetOf(t),
): Promise<{ source: ScriptedHost; destination: ScriptedHost; vmId: string; vmName: string }> {
  const connect = async (hostname: string) => {
    const host = await joinedHost(t, admin, hostname);
    const { agent } = await ScriptedAgent.connect(target, host.credential, {
      migrationUri: `qemu+tcp://${hostname}:16509/system`,
    });
    return { ...host, agent };
  };
  const source = await connect(`${name}-src`);
  const destination = await connect(`${name}-dst`);
  const vmId = randomUUID();
  const vmName = `${name}-vm`;
  await source.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
  await source.agent.next('ack');
  return { source, destination, vmId, vmName };
}

export const progress = (processed: number, extra: Partial<MigrationProgress> = {}): MigrationProgress => ({
  dataTotal: 64 << 20,
  dataProcessed: processed,
  dataRemaining: (64 << 20) - processed,
  memoryTotal: 64 << 20,
  memoryProcessed: processed,
  memoryRemaining: (64 << 20) - processed,
  memoryBps: 100 << 20,
  elapsedMs: 1000,
  downtimeMs: 0,
  iteration: 1,
  postCopy: false,
  ...extra,
});

/** The destination answers its MigrationPrepare (having created `createdImages`); returns the command. */
export async function prepareOn(
  destination: ScriptedHost,
  connectUri = 'qemu+tcp://dst:16509/system',
  createdImages: string[] = [],
) {
  const prepare = await destination.agent.next('command');
  expect(prepare.action?.$case).toBe('migrationPrepare');
  await destination.agent.commandUpdate({
    commandId: prepare.commandId,
    status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    detail: { $case: 'migrationPrepared', value: { connectUri, migrateUri: '', createdImages } },
  });
  return prepare;
}

/** The source takes its MigrationPerform and reports one RUNNING update with progress. */
export async function performStarts(source: ScriptedHost) {
  const perform = await source.agent.next('command');
  expect(perform.action?.$case).toBe('migrationPerform');
  await source.agent.commandUpdate({
    commandId: perform.commandId,
    status: CommandStatus.COMMAND_STATUS_ACCEPTED,
  });
  await source.agent.commandUpdate({
    commandId: perform.commandId,
    status: CommandStatus.COMMAND_STATUS_RUNNING,
    detail: { $case: 'migrationProgress', value: progress(16 << 20) },
  });
  return perform;
}

/** Reads a migration through REST until `accept` holds. */
export function migrationUntil(
  t: TestApp,
  token: string,
  id: string,
  what: string,
  accept: (m: MigrationView) => boolean,
  timeoutMs = 10_000,
) {
  return eventually(
    what,
    async () => (await t.request<MigrationView>('GET', `/api/v1/migrations/${id}`, { token })).body,
    accept,
    timeoutMs,
  );
}

export { VmState };
