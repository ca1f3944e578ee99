import { randomUUID } from 'node:crypto';
import { CommandStatus, PowerOp, VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually, joinedHost, targetOf } from '../../test/support/agent-test-helpers.ts';
import { RealTimeClock } from '../../test/support/real-time-clock.ts';
import { ScriptedAgent, vm } from '../../test/support/scripted-agent.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

describe('POST /api/v1/vms/:id/action', () => {
  let t: TestApp;
  let operator: string;
  let agent: ScriptedAgent;
  let hostId: string;
  const running = randomUUID();
  const stopped = randomUUID();
  const paused = randomUUID();
  const crashed = randomUUID();
  const suspended = randomUUID();

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    const admin = await adminToken(t);
    operator = (await t.userWithRole('operator')).tokens.token;
    const host = await joinedHost(t, admin, 'action-node');
    hostId = host.hostId;
    ({ agent } = await ScriptedAgent.connect(targetOf(t), host.credential));
    await agent.batch([
      { $case: 'vmUpdated', value: vm(running, 'running-vm') },
      { $case: 'vmUpdated', value: vm(stopped, 'stopped-vm', VmState.VM_STATE_SHUT_OFF) },
      { $case: 'vmUpdated', value: vm(paused, 'paused-vm', VmState.VM_STATE_PAUSED) },
      { $case: 'vmUpdated', value: vm(crashed, 'crashed-vm', VmState.VM_STATE_CRASHED) },
      { $case: 'vmUpdated', value: vm(suspended, 'suspended-vm', VmState.VM_STATE_PMSUSPENDED) },
    ]);
    await agent.next('ack');
  });
  afterAll(async () => {
    agent?.close();
    await t?.close();
  });

  const act = (id: string, body: unknown, token = operator, query = '') =>
    t.request('POST', `/api/v1/vms/${id}/action${query}`, { token, body });

  it('takes the seed’s start payload: 202, an operation, the command on the host’s stream; the agent’s outcome finishes it', async () => {
    const res = await act(stopped, { action: 'start' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      kind: 'vm.start',
      status: 'pending',
      vm_id: stopped,
      host_id: hostId,
      error: null,
    });
    expect(res.body.operation_id).toBe(res.body.id);
    expect(res.headers.get('location')).toBe(`/api/v1/operations/${res.body.id}`);

    const command = await agent.next('command');
    expect(command.action).toEqual({
      $case: 'power',
      value: { vmId: stopped, op: PowerOp.POWER_OP_START, timeoutS: 0, forceAfterTimeout: false },
    });
    expect(command.deadlineMs).toBeGreaterThan(Date.now());
    await agent.commandUpdate({
      commandId: command.commandId,
      status: CommandStatus.COMMAND_STATUS_ACCEPTED,
    });
    await agent.commandUpdate({
      commandId: command.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    const done = await t.request('GET', `/api/v1/operations/${res.body.id}?wait=5`, { token: operator });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'succeeded', error: null });
    expect(done.body.finished_at).not.toBeNull();

    const audit = await t.request('GET', '/api/v1/audit?limit=20', { token: await adminToken(t) });
    expect(
      audit.body.entries.find((e: { action: string }) => e.action === 'POST /api/v1/vms/:id/action'),
    ).toMatchObject({ target: `vm:${stopped}`, result: 'success', status: 202 });
  });

  it('takes the seed’s force-stop payload and waits for the result in the same call (?wait=)', async () => {
    const answered = (async () => {
      const command = await agent.next('command');
      expect(command.action).toEqual({
        $case: 'power',
        value: { vmId: running, op: PowerOp.POWER_OP_DESTROY, timeoutS: 0, forceAfterTimeout: false },
      });
      await agent.commandUpdate({
        commandId: command.commandId,
        status: CommandStatus.COMMAND_STATUS_FAILED,
        error: { code: 'OPERATION_INVALID', message: 'domain is not running' },
      });
    })();
    const res = await act(running.toUpperCase(), { action: 'stop', force: true }, operator, '?wait=10');
    await answered;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      kind: 'vm.force_stop',
      status: 'failed',
      vm_id: running,
      error: { code: 'OPERATION_INVALID', message: 'domain is not running' },
    });
  });

  it('maps every action to its power operation', async () => {
    // A graceful stop or restart waits for the guest: 180 s unless the request says.
    const { POWER_OP_SHUTDOWN: SHUTDOWN, POWER_OP_REBOOT: REBOOT } = PowerOp;
    const cases = [
      [running, { action: 'stop' }, 'vm.stop', SHUTDOWN, 180, false],
      [running, { action: 'stop', timeout_s: 30 }, 'vm.stop', SHUTDOWN, 30, false],
      [running, { action: 'stop', force_after_timeout: true }, 'vm.stop', SHUTDOWN, 180, true],
      [running, { action: 'restart' }, 'vm.restart', REBOOT, 180, false],
      [
        running,
        { action: 'restart', timeout_s: 45, force_after_timeout: true },
        'vm.restart',
        REBOOT,
        45,
        true,
      ],
      [running, { action: 'restart', force: true }, 'vm.reset', PowerOp.POWER_OP_RESET, 0, false],
      [running, { action: 'pause' }, 'vm.pause', PowerOp.POWER_OP_SUSPEND, 0, false],
      [paused, { action: 'resume' }, 'vm.resume', PowerOp.POWER_OP_RESUME, 0, false],
    ] as const;
    for (const [id, body, kind, op, timeoutS, forceAfterTimeout] of cases) {
      const res = await act(id, body);
      expect(res.status, JSON.stringify(body)).toBe(202);
      expect(res.body.kind).toBe(kind);
      const command = await agent.next('command');
      expect(command.action).toEqual({
        $case: 'power',
        value: { vmId: id, op, timeoutS, forceAfterTimeout },
      });
      await agent.commandUpdate({
        commandId: command.commandId,
        status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
      });
      const done = await t.request('GET', `/api/v1/operations/${res.body.id}?wait=5`, { token: operator });
      expect(done.body.status).toBe('succeeded');
    }
  });

  it('answers 202 with the operation as it stands when ?wait= runs out', async () => {
    const res = await act(running, { action: 'pause' }, operator, '?wait=1');
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('pending');
    const command = await agent.next('command');
    await agent.commandUpdate({
      commandId: command.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
  });

  it('refuses, with a code naming why, an action the VM’s state does not allow', async () => {
    const cases = [
      [running, { action: 'start' }, 'vm_already_running'],
      [stopped, { action: 'stop' }, 'vm_not_running'],
      [stopped, { action: 'restart' }, 'vm_not_running'],
      [stopped, { action: 'pause' }, 'vm_not_running'],
      [paused, { action: 'pause' }, 'vm_already_paused'],
      [running, { action: 'resume' }, 'vm_not_paused'],
      // Its guest could not answer the power button (a forced stop can pull the plug).
      [paused, { action: 'stop' }, 'vm_paused'],
      [paused, { action: 'stop', timeout_s: 600 }, 'vm_paused'],
      [paused, { action: 'restart' }, 'vm_paused'],
      [crashed, { action: 'stop' }, 'vm_not_running'],
      [suspended, { action: 'stop' }, 'vm_not_running'],
      [suspended, { action: 'restart' }, 'vm_not_running'],
    ] as const;
    for (const [id, body, code] of cases) {
      const res = await act(id, body);
      expect(res.status, `${JSON.stringify(body)} on ${id}`).toBe(409);
      expect(res.body.error.code).toBe(code);
    }
  });

  it('lets one of two concurrent actions on a VM through; the other is operation_in_progress', async () => {
    const [a, b] = await Promise.all([act(running, { action: 'pause' }), act(running, { action: 'stop' })]);
    expect([a.status, b.status].sort()).toEqual([202, 409]);
    expect((a.status === 409 ? a : b).body.error.code).toBe('operation_in_progress');
    const command = await agent.next('command');
    await agent.commandUpdate({
      commandId: command.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    const op = a.status === 202 ? a : b;
    expect(
      (await t.request('GET', `/api/v1/operations/${op.body.id}?wait=5`, { token: operator })).body.status,
    ).toBe('succeeded');
  });

  /** The agent answers a command. */
  const answer = (command: { commandId: string }, status: CommandStatus) =>
    agent.commandUpdate({ commandId: command.commandId, status });
  const operation = (id: string, query = '') =>
    t.request('GET', `/api/v1/operations/${id}${query}`, { token: operator });

  it('a forced stop overrules a graceful stop still waiting for the guest; other actions wait for it', async () => {
    const graceful = await act(running, { action: 'stop', timeout_s: 600 });
    expect(graceful.status).toBe(202);
    const shutdown = await agent.next('command');
    await answer(shutdown, CommandStatus.COMMAND_STATUS_ACCEPTED);
    const waiting = operation(graceful.body.id, '?wait=20');
    // Anything but a forced stop waits for the graceful stop to end.
    const pause = await act(running, { action: 'pause' });
    expect(pause.status).toBe(409);
    expect(pause.body.error.code).toBe('operation_in_progress');

    // Of two concurrent forced stops one gets through, and the graceful stop ends once, as cancelled.
    const forced = await Promise.all([
      act(running, { action: 'stop', force: true }),
      act(running, { action: 'stop', force: true }),
    ]);
    expect(forced.map((r) => r.status).sort()).toEqual([202, 409]);
    const winner = forced.find((r) => r.status === 202);
    expect(forced.find((r) => r.status === 409)?.body.error.code).toBe('operation_in_progress');
    const overruled = await waiting;
    expect(overruled.status).toBe(200);
    expect(overruled.body).toMatchObject({
      status: 'cancelled',
      error: { code: 'superseded', message: `overruled by a forced stop (operation ${winner?.body.id})` },
    });
    expect(await t.sql`select status, error_code from commands where id = ${shutdown.commandId}`).toEqual([
      { status: 'cancelled', error_code: 'superseded' },
    ]);

    // The agent's late answer to the graceful stop changes nothing; the forced stop runs as usual.
    await answer(shutdown, CommandStatus.COMMAND_STATUS_SUCCEEDED);
    const destroy = await agent.next('command');
    expect(destroy.action).toEqual({
      $case: 'power',
      value: { vmId: running, op: PowerOp.POWER_OP_DESTROY, timeoutS: 0, forceAfterTimeout: false },
    });
    await answer(destroy, CommandStatus.COMMAND_STATUS_SUCCEEDED);
    expect((await operation(winner?.body.id, '?wait=5')).body.status).toBe('succeeded');
    expect((await operation(graceful.body.id)).body).toMatchObject({
      status: 'cancelled',
      error: { code: 'superseded' },
    });
  });

  it('a reset overrules a graceful restart still waiting for the guest', async () => {
    const graceful = await act(running, { action: 'restart' });
    expect(graceful.status).toBe(202);
    await answer(await agent.next('command'), CommandStatus.COMMAND_STATUS_ACCEPTED);
    const reset = await act(running, { action: 'restart', force: true });
    expect(reset.status).toBe(202);
    expect((await operation(graceful.body.id, '?wait=5')).body).toMatchObject({
      kind: 'vm.restart',
      status: 'cancelled',
      error: { code: 'superseded', message: `overruled by a forced restart (operation ${reset.body.id})` },
    });
    const command = await agent.next('command');
    expect(command.action).toEqual({
      $case: 'power',
      value: { vmId: running, op: PowerOp.POWER_OP_RESET, timeoutS: 0, forceAfterTimeout: false },
    });
    await answer(command, CommandStatus.COMMAND_STATUS_SUCCEEDED);
    expect((await operation(reset.body.id, '?wait=5')).body.status).toBe('succeeded');
  });

  it('refuses (409 conflict) an action decided while a migration moved the VM to another host', async () => {
    const admin = await adminToken(t);
    const other = await joinedHost(t, admin, 'action-node-b');
    const moving = randomUUID();
    await agent.batch([{ $case: 'vmUpdated', value: vm(moving, 'moving-vm', VmState.VM_STATE_SHUT_OFF) }]);
    await agent.next('ack');
    // A migration's transaction, as the coordinator completes one: its operation holds the VM's one
    // active slot while it moves the VM to the other host; the action waits for the slot meanwhile.
    const migration = await t.sql.reserve();
    try {
      await migration`begin`;
      const [op] = await migration<{ id: string }[]>`
        insert into operations (id, kind, vm_id, host_id, status, created_at, updated_at)
        values (${randomUUID()}, 'vm.migrate', ${moving}, ${hostId}, 'running', now(), now()) returning id`;
      const acting = act(moving, { action: 'start' });
      await eventually(
        'the action waiting for the VM’s operation slot',
        async () =>
          t.sql`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
        (rows) => rows.length > 0,
      );
      await migration`update vms set host_id = ${other.hostId} where id = ${moving}`;
      await migration`update operations set status = 'succeeded', finished_at = now() where id = ${op?.id ?? ''}`;
      await migration`commit`;
      const res = await acting;
      expect(res.status, res.text).toBe(409);
      expect(res.body.error.code).toBe('conflict');
    } finally {
      migration.release();
    }
    // Nothing was sent to the host the VM left, and nothing waits for it.
    expect(
      await t.sql`select 1 from operations where vm_id = ${moving} and status in ('pending', 'running')`,
    ).toHaveLength(0);
    expect(await t.sql`select 1 from commands where payload::text like ${`%${moving}%`}`).toHaveLength(0);
  });

  it('validates the payload and the id; 404 for an unknown VM', async () => {
    const badForce = await act(running, { action: 'pause', force: true });
    expect(badForce.status).toBe(400);
    expect(badForce.body.error.details[0].path).toBe('body.force');
    // A misspelt `force` is not a graceful stop: it is refused, and nothing is sent.
    const typo = await act(running, { action: 'stop', forc: true });
    expect(typo.status).toBe(400);
    expect(typo.body.error.details).toEqual([{ path: 'body', message: 'unknown field: forc' }]);
    expect(typo.body.error.message).toBe('invalid request: body: unknown field: forc');
    // timeout_s is a graceful stop's or restart's: whole seconds, 1 to 3600.
    for (const body of [
      { action: 'stop', force: true, timeout_s: 10 },
      { action: 'restart', force: true, timeout_s: 10 },
      { action: 'pause', timeout_s: 10 },
      { action: 'stop', timeout_s: 0 },
      { action: 'stop', timeout_s: 3601 },
      { action: 'stop', timeout_s: 1.5 },
      { action: 'stop', timeout_s: '10' },
    ]) {
      const res = await act(running, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details[0].path).toBe('body.timeout_s');
    }
    for (const body of [
      { action: 'stop', force: true, force_after_timeout: true },
      { action: 'start', force_after_timeout: false },
      { action: 'restart', force_after_timeout: 'yes' },
    ]) {
      const res = await act(running, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.details[0].path).toBe('body.force_after_timeout');
    }
    const badAction = await act(running, { action: 'explode' });
    expect(badAction.body.error.details[0].path).toBe('body.action');
    expect((await act('not-a-uuid', { action: 'start' })).body.error.details[0].path).toBe('path.id');
    const unknown = await act(randomUUID(), { action: 'start' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
  });

  it('needs an operator: 401 without a token, 403 for a viewer', async () => {
    expect(
      (await t.request('POST', `/api/v1/vms/${running}/action`, { body: { action: 'pause' } })).status,
    ).toBe(401);
    const viewer = (await t.userWithRole('viewer')).tokens.token;
    const res = await act(running, { action: 'pause' }, viewer);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  });

  it('refuses host_disconnected once the host’s agent is gone', async () => {
    agent.close();
    await agent.ended;
    await expect
      .poll(async () => (await t.request('GET', `/api/v1/vms/${running}`, { token: operator })).body.stale, {
        timeout: 5000,
      })
      .toBe(true);
    const res = await act(running, { action: 'pause' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('host_disconnected');
  });
});
