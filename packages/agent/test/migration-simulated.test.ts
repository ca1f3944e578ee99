import { randomUUID } from 'node:crypto';
import { CommandStatus, VmState } from '@cockpit/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closedPort } from './support/closed-port.ts';
import type { ControllerSession } from './support/controller-session.ts';
import {
  cancelStep,
  finalOf,
  forceCompleteStep,
  historyOf,
  migrationOptions,
  performStep,
  prepareStep,
  progressOf,
  progressWhere,
  send,
} from './support/migration-steps.ts';
import { ScriptedController } from './support/scripted-controller.ts';
import { type CountingDriver, startTestAgent, type TestAgent, testDriver } from './support/test-agent.ts';

// Live migration between two simulated hosts, each behind its own agent and session with the scripted
// controller: the same flows as against libvirt (test/migration-libvirt.test.ts), in well under a second
// each. Each simulated host listens on its own loopback port (sim+tcp://127.0.0.1:0) and the source
// connects there, as between agents of different processes.

let controller: ScriptedController;
const agents: TestAgent[] = [];

interface Host {
  name: string;
  uri: string;
  driver: CountingDriver;
  session: ControllerSession;
  agent: TestAgent;
}

async function host(name: string, migrationUri = 'sim+tcp://127.0.0.1:0'): Promise<Host> {
  const sessions = controller.nextSession();
  const driver = testDriver({ hostname: name, vmCount: 0, migrationUri });
  const agent = await startTestAgent(controller.address, {
    driver,
    config: { joinToken: 'tok', hostname: name, migrationUri },
    agent: { migration: { progressIntervalMs: 40 } },
  });
  agents.push(agent);
  const session = await sessions;
  await session.welcome();
  await session.until(() => session.snapshots().length > 0);
  const uri = driver.migration.advertisedUri();
  expect((await session.hello).migrationUri).toBe(uri);
  return { name, uri, driver, session, agent };
}

/** A running 64 MiB VM on `on`. */
async function runningVm(on: Host, name = `vm-${randomUUID().slice(0, 6)}`) {
  const vm = on.driver.define({ name, memoryMib: 64, maxMemoryMib: 64 });
  await on.driver.power(vm.id, 'start');
  return vm;
}

const stateOn = async (on: Host, vmId: string) => (await on.driver.listVms()).find((v) => v.id === vmId);

let a: Host;
let b: Host;
beforeEach(async () => {
  controller = await ScriptedController.start();
  a = await host(`node-a-${randomUUID().slice(0, 4)}`);
  b = await host(`node-b-${randomUUID().slice(0, 4)}`);
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((x) => x.agent.close()));
  await controller.stop();
});

/** Prepare on `to`, then perform on `from`; returns the perform's command id. */
async function migrate(from: Host, to: Host, vm: { id: string; name: string }, options = migrationOptions()) {
  const migrationId = randomUUID();
  const prepared = await finalOf(
    to.session,
    await send(to.session, prepareStep(vm.id, vm.name, { migrationId })),
  );
  expect(prepared).toMatchObject({
    status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    detail: { $case: 'migrationPrepared', value: { connectUri: to.uri, migrateUri: '' } },
  });
  const commandId = await send(from.session, performStep(migrationId, vm.id, to.uri, options));
  return { migrationId, commandId };
}

describe('simulated live migration', () => {
  it('moves a running VM A→B and back, with progress; the journals show it leave and arrive', async () => {
    const vm = await runningVm(a);
    // 128 MiB/s: half a second for 64 MiB, several progress reports at 40 ms.
    const { commandId } = await migrate(a, b, vm, migrationOptions({ bandwidthMibps: 128 }));
    const final = await finalOf(a.session, commandId);
    expect(final.status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    const progress = progressOf(a.session, commandId);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.every((p) => p.memoryTotal === 64 * 1024 * 1024)).toBe(true);
    const processed = progress.map((p) => p.dataProcessed);
    expect(processed).toEqual([...processed].sort((x, y) => x - y));
    expect(progress.at(-1)?.memoryBps).toBe(128 * 1024 * 1024);
    expect(final.detail?.$case === 'migrationProgress' && final.detail.value).toMatchObject({
      memoryRemaining: 0,
      postCopy: false,
    });
    expect(final.detail?.$case === 'migrationProgress' && final.detail.value.downtimeMs).toBeGreaterThan(0);

    expect(await stateOn(b, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING, persistent: true });
    expect(await stateOn(a, vm.id)).toBeUndefined();
    await b.session.until(() => historyOf(b.session, vm.id).length >= 2);
    expect(historyOf(b.session, vm.id)).toEqual(['paused/migration', 'running/migrated persistent']);
    await a.session.until(() => historyOf(a.session, vm.id).includes('removed MIGRATED'));
    expect(historyOf(a.session, vm.id)).toEqual([
      'shut_off/unknown persistent',
      'running/booted persistent',
      'removed MIGRATED',
    ]);

    const back = await migrate(b, a, vm);
    expect((await finalOf(b.session, back.commandId)).status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING, persistent: true });
    expect(await stateOn(b, vm.id)).toBeUndefined();
  });

  it('without undefine_source a persistent source keeps its definition, shut off ("migrated")', async () => {
    const vm = await runningVm(a);
    const { commandId } = await migrate(
      a,
      b,
      vm,
      migrationOptions({ undefineSource: false, persistent: false }),
    );
    expect((await finalOf(a.session, commandId)).status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    expect(await stateOn(a, vm.id)).toMatchObject({
      state: VmState.VM_STATE_SHUT_OFF,
      stateReason: 'migrated',
    });
    expect(await stateOn(b, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING, persistent: false });
  });

  it('cancel aborts the migration: the perform fails "cancelled", the VM keeps running on the source', async () => {
    const vm = await runningVm(a);
    const { migrationId, commandId } = await migrate(a, b, vm, migrationOptions({ bandwidthMibps: 4 }));
    await progressWhere(a.session, commandId, (p) => p.dataProcessed > 0);
    expect(await stateOn(b, vm.id)).toMatchObject({
      state: VmState.VM_STATE_PAUSED,
      stateReason: 'migration',
    });
    // A cancel or force-complete of an earlier migration of the VM is stale: this one goes on.
    for (const stale of [cancelStep(randomUUID(), vm.id), forceCompleteStep(randomUUID(), vm.id)]) {
      expect(await finalOf(a.session, await send(a.session, stale))).toMatchObject({
        status: CommandStatus.COMMAND_STATUS_FAILED,
        error: { code: 'no_migration_running' },
      });
    }
    // The migration holds the VM on both hosts meanwhile, as libvirt's job lock does.
    await expect(a.driver.power(vm.id, 'shutdown')).rejects.toMatchObject({ code: 'OPERATION_TIMEOUT' });
    await expect(b.driver.power(vm.id, 'resume')).rejects.toMatchObject({ code: 'OPERATION_TIMEOUT' });
    const cancel = await finalOf(a.session, await send(a.session, cancelStep(migrationId, vm.id)));
    expect(cancel.status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    expect(await finalOf(a.session, commandId)).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: {
        code: 'cancelled',
        message: 'the migration was cancelled: operation aborted: migration out: canceled by client',
      },
    });
    expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
    expect(await stateOn(b, vm.id)).toBeUndefined();
    await b.session.until(() => historyOf(b.session, vm.id).length >= 2);
    expect(historyOf(b.session, vm.id)).toEqual(['paused/migration', 'removed UNDEFINED']);

    // Nothing runs any more: a second cancel says so.
    const again = await finalOf(a.session, await send(a.session, cancelStep(migrationId, vm.id)));
    expect(again).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'no_migration_running' },
    });
  });

  it('force-complete switches to post-copy when allowed, and the migration completes', async () => {
    const vm = await runningVm(a);
    // 1 MiB/s never converges for a guest dirtying 5 % of 64 MiB a second.
    const { migrationId, commandId } = await migrate(
      a,
      b,
      vm,
      migrationOptions({ bandwidthMibps: 1, allowPostCopy: true }),
    );
    await progressWhere(a.session, commandId);
    const force = await finalOf(a.session, await send(a.session, forceCompleteStep(migrationId, vm.id)));
    expect(force.status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    const final = await finalOf(a.session, commandId);
    expect(final.status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    expect(final.detail?.$case === 'migrationProgress' && final.detail.value.postCopy).toBe(true);
    expect(await stateOn(b, vm.id)).toMatchObject({
      state: VmState.VM_STATE_RUNNING,
      stateReason: 'migrated',
    });
    expect(historyOf(b.session, vm.id)).toContain('running/postcopy');
  });

  it('force-complete without allow_post_copy fails "post_copy_not_allowed"; the migration goes on', async () => {
    const vm = await runningVm(a);
    const { migrationId, commandId } = await migrate(a, b, vm, migrationOptions({ bandwidthMibps: 1 }));
    await progressWhere(a.session, commandId);
    const force = await finalOf(a.session, await send(a.session, forceCompleteStep(migrationId, vm.id)));
    expect(force).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'post_copy_not_allowed' },
    });
    expect(
      a.session.commandUpdates(commandId).some((u) => u.status === CommandStatus.COMMAND_STATUS_FAILED),
    ).toBe(false);
    await finalOf(a.session, await send(a.session, cancelStep(migrationId, vm.id)));
  });

  it('a completion timeout aborts the migration: FAILED "completion_timeout"', async () => {
    const vm = await runningVm(a);
    const { commandId } = await migrate(
      a,
      b,
      vm,
      migrationOptions({ bandwidthMibps: 1, completionTimeoutS: 1 }),
    );
    const final = await finalOf(a.session, commandId);
    expect(final).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'completion_timeout' },
    });
    expect(final.error?.message).toMatch(
      /^the migration did not complete within 1 s and was aborted: operation aborted/,
    );
    expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
  });

  it('a destination nobody answers at fails as libvirt would; the VM stays', async () => {
    const vm = await runningVm(a);
    const port = await closedPort();
    const commandId = await send(
      a.session,
      performStep(randomUUID(), vm.id, `sim+tcp://127.0.0.1:${port}/${randomUUID()}`, migrationOptions()),
    );
    expect(await finalOf(a.session, commandId)).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: {
        code: 'SYSTEM_ERROR',
        message: `unable to connect to server at '127.0.0.1:${port}': Connection refused`,
      },
    });
    expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
  });

  it('the destination host going away fails the migration; the VM stays on the source', async () => {
    const vm = await runningVm(a);
    const { commandId } = await migrate(a, b, vm, migrationOptions({ bandwidthMibps: 2 }));
    await progressWhere(a.session, commandId);
    await b.agent.agent.close();
    expect(await finalOf(a.session, commandId)).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'OPERATION_FAILED' },
    });
    expect(await stateOn(a, vm.id)).toMatchObject({ state: VmState.VM_STATE_RUNNING });
  });

  it('a repeated perform command id migrates once; a second perform of the same VM is refused', async () => {
    const vm = await runningVm(a);
    const migrationId = randomUUID();
    await finalOf(b.session, await send(b.session, prepareStep(vm.id, vm.name, { migrationId })));
    const step = performStep(migrationId, vm.id, b.uri, migrationOptions({ bandwidthMibps: 64 }));
    const commandId = await send(a.session, step);
    await send(a.session, step, commandId);
    const other = await finalOf(a.session, await send(a.session, step));
    expect(other).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'migration_in_progress' },
    });
    expect((await finalOf(a.session, commandId)).status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    await send(a.session, step, commandId);
    await a.session.until(
      () =>
        a.session.commandUpdates(commandId).filter((u) => u.status === CommandStatus.COMMAND_STATUS_SUCCEEDED)
          .length === 2,
    );
    const accepted = a.session
      .commandUpdates(commandId)
      .filter((u) => u.status === CommandStatus.COMMAND_STATUS_ACCEPTED);
    expect(accepted).toHaveLength(1);
    expect(historyOf(a.session, vm.id).filter((h) => h.startsWith('removed'))).toEqual(['removed MIGRATED']);
    expect(historyOf(b.session, vm.id)).toEqual(['paused/migration', 'running/migrated persistent']);
  });

  it('prepare refuses a VM already running on the destination, a name in use, and a host without a migration URI', async () => {
    const vm = await runningVm(a);
    const twin = b.driver.define({ id: vm.id, name: vm.name });
    await b.driver.power(twin.id, 'start');
    const running = await finalOf(b.session, await send(b.session, prepareStep(vm.id, vm.name)));
    expect(running).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'vm_running_here' },
    });

    const other = await runningVm(a, 'taken');
    b.driver.define({ name: 'taken' });
    const named = await finalOf(b.session, await send(b.session, prepareStep(other.id, 'taken')));
    expect(named).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'name_in_use' },
    });

    const c = await host(`node-c-${randomUUID().slice(0, 4)}`, '');
    const noUri = await finalOf(c.session, await send(c.session, prepareStep(other.id, 'taken')));
    expect(noUri).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'not_a_migration_target' },
    });
    const badId = await finalOf(b.session, await send(b.session, prepareStep('not-a-uuid', 'x')));
    expect(badId).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'invalid_request' },
    });
  });

  it('cancel and force-complete of a migration that does not run fail "no_migration_running"', async () => {
    const vm = await runningVm(a);
    for (const step of [cancelStep(randomUUID(), vm.id), forceCompleteStep(randomUUID(), vm.id)]) {
      expect(await finalOf(a.session, await send(a.session, step))).toMatchObject({
        status: CommandStatus.COMMAND_STATUS_FAILED,
        error: { code: 'no_migration_running' },
      });
    }
  });
});
