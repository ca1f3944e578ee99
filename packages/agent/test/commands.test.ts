import { CommandStatus, PowerOp, VmState } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import { controllerPerTest } from './support/controller-per-test.ts';
import type { ControllerSession } from './support/controller-session.ts';
import { testDriver } from './support/test-agent.ts';

// Commands through a real gRPC stream: each id runs at most once, a repeated id gets the recorded
// outcome, a restart between accept and result answers "interrupted", a late command is not run.

const env = controllerPerTest();

async function connected(options: Parameters<typeof env.agentWith>[0] = {}) {
  const sessions = env.controller.nextSession();
  const a = await env.agentWith(options);
  const session = await sessions;
  await session.welcome();
  await session.until(() => session.snapshots().length > 0);
  return { ...a, session };
}

const power = (commandId: string, vmId: string, op: PowerOp, deadlineMs = 0, timeoutS = 0) => ({
  commandId,
  deadlineMs,
  action: { $case: 'power' as const, value: { vmId, op, timeoutS, forceAfterTimeout: false } },
});

const finalUpdate = (session: ControllerSession, id: string, count = 1) =>
  session.until(() => {
    const finals = session
      .commandUpdates(id)
      .filter(
        (u) =>
          u.status === CommandStatus.COMMAND_STATUS_SUCCEEDED ||
          u.status === CommandStatus.COMMAND_STATUS_FAILED,
      );
    return finals.length >= count && finals;
  });

const ID = '0190f3a5-5d2b-7c1e-8f00-00000000000a';

describe('commands', () => {
  it('runs a power command once, reports ACCEPTED then SUCCEEDED, and the change shows in the state stream', async () => {
    const { driver, session } = await connected();
    const vm = driver.define({ name: 'cmd-vm' });
    await session.command(power(ID, vm.id, PowerOp.POWER_OP_START));
    await finalUpdate(session, ID);
    expect(session.commandUpdates(ID).map((u) => u.status)).toEqual([
      CommandStatus.COMMAND_STATUS_ACCEPTED,
      CommandStatus.COMMAND_STATUS_SUCCEEDED,
    ]);
    expect(driver.calls).toEqual([{ vmId: vm.id, op: 'start' }]);
    await session.until(() =>
      session
        .changes()
        .some(
          (c) =>
            c.change?.$case === 'vmUpdated' &&
            c.change.value.id === vm.id &&
            c.change.value.state === VmState.VM_STATE_RUNNING,
        ),
    );
  });

  it('a graceful shutdown with a timeout answers SUCCEEDED once the VM is off, not when it was asked', async () => {
    const { driver, session } = await connected();
    // The simulated guest takes at least 500 ms from "being shut down" to shut off.
    const vm = driver.define({ name: 'cmd-shutdown', state: VmState.VM_STATE_RUNNING });
    const id = '0190f3a5-5d2b-7c1e-8f00-00000000005d';
    await session.command(power(id, vm.id, PowerOp.POWER_OP_SHUTDOWN, 0, 30));
    const [final] = await finalUpdate(session, id);
    expect(final?.status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    const now = (await driver.listVms()).find((v) => v.id === vm.id);
    expect(now?.state).toBe(VmState.VM_STATE_SHUT_OFF);
  });

  it('a graceful reboot with a timeout answers SUCCEEDED once the guest rebooted', async () => {
    const { driver, session } = await connected();
    // The simulated guest reboots at least 250 ms after the request; until then nothing is reported.
    const vm = driver.define({ name: 'cmd-reboot', state: VmState.VM_STATE_RUNNING });
    let rebootedAt = 0;
    void driver.nextReboot(vm.id, { timeoutMs: 10_000 }).then(() => {
      rebootedAt = Date.now();
    });
    const id = '0190f3a5-5d2b-7c1e-8f00-00000000005e';
    await session.command(power(id, vm.id, PowerOp.POWER_OP_REBOOT, 0, 30));
    const [final] = await finalUpdate(session, id);
    expect(final?.status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    expect(rebootedAt).toBeGreaterThan(0);
  });

  it('a repeated id gets the recorded outcome and is not run again, also after a reconnect', async () => {
    const { driver, session } = await connected();
    const vm = driver.define({ name: 'twice' });
    await session.command(power(ID, vm.id, PowerOp.POWER_OP_START));
    // The same id again at once, while the first may still run, and later with any case spelling.
    await session.command(power(ID, vm.id, PowerOp.POWER_OP_START));
    await finalUpdate(session, ID, 1);
    await session.command(power(ID.toUpperCase(), vm.id, PowerOp.POWER_OP_START));
    await session.until(() => session.commandUpdates(ID.toUpperCase()).length > 0);
    expect(session.commandUpdates(ID.toUpperCase())).toEqual([
      {
        commandId: ID.toUpperCase(),
        status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
        detail: undefined,
        error: undefined,
      },
    ]);
    const sessions = env.controller.nextSession();
    session.end();
    const second = await sessions;
    await second.welcome();
    await second.command(power(ID, vm.id, PowerOp.POWER_OP_START));
    const [final] = await finalUpdate(second, ID);
    expect(final?.status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    expect(driver.calls).toHaveLength(1);
  });

  it('libvirt refusals come back with the code name and words; an unknown VM is vm_not_found', async () => {
    const { driver, session } = await connected();
    const vm = driver.define({ name: 'off' });
    await session.command(power('c-refused', vm.id, PowerOp.POWER_OP_SUSPEND));
    await session.command(power('c-missing', '11111111-2222-4333-8444-555555555555', PowerOp.POWER_OP_START));
    const [refused] = await finalUpdate(session, 'c-refused');
    const [missing] = await finalUpdate(session, 'c-missing');
    expect(refused).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: {
        code: 'OPERATION_INVALID',
        message: 'Requested operation is not valid: domain is not running',
      },
    });
    expect(missing).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'vm_not_found' },
    });
  });

  it('a command past its deadline is answered deadline_exceeded and not run', async () => {
    const { driver, session } = await connected();
    const vm = driver.define({ name: 'late' });
    await session.command(power('c-late', vm.id, PowerOp.POWER_OP_START, Date.now() - 1000));
    const [late] = await finalUpdate(session, 'c-late');
    expect(late).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'deadline_exceeded' },
    });
    expect(driver.calls).toEqual([]);
  });

  it('a restart between accept and result: the id answers "interrupted" and never runs again', async () => {
    // Power calls that take a minute: the agent stops while the first one runs.
    const slow = testDriver({ opDelayMs: 60_000 });
    const first = await connected({ driver: slow });
    const vm = slow.define({ name: 'slow' });
    await first.session.command(power(ID, vm.id, PowerOp.POWER_OP_START));
    await first.session.until(() => first.session.commandUpdates(ID).length > 0);
    await first.agent.close();

    const second = await connected({ stateDir: first.stateDir });
    await second.session.command(power(ID, vm.id, PowerOp.POWER_OP_START));
    const [final] = await finalUpdate(second.session, ID);
    expect(final).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'interrupted' },
    });
    expect(second.driver.calls).toEqual([]);
    expect(
      second.log.messages('commands cut short by the last stop: answered as interrupted, never re-run')[0],
    ).toMatchObject({
      commandIds: [ID],
    });
  });

  it('a migration step this agent cannot take is FAILED with its code (no --migration-uri: not a target)', async () => {
    const { session } = await connected();
    await session.command({
      commandId: 'c-mig',
      deadlineMs: 0,
      action: {
        $case: 'migrationPrepare',
        value: { migrationId: 'm-1', vmId: 'v', vmName: 'v', copyStorage: 0, disks: [] },
      },
    });
    const [final] = await finalUpdate(session, 'c-mig');
    expect(final).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'not_a_migration_target' },
    });
  });
});
