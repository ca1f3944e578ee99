import { randomUUID } from 'node:crypto';
import { CommandStatus, VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually, joinedHost, targetOf } from './support/agent-test-helpers.ts';
import { RealTimeClock } from './support/real-time-clock.ts';
import { ScriptedAgent, vm } from './support/scripted-agent.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

// Commands are rows written before they are sent; the holding replica sends each once per stream,
// every unfinished one again after a reconnect, and applies the agent's final outcome once.
describe('commands to agents', () => {
  let t: TestApp;
  let admin: string;
  let clock: RealTimeClock;

  beforeAll(async () => {
    clock = new RealTimeClock();
    t = await createTestApp({ clock });
    admin = await adminToken(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function hostWithVm(name: string, state: VmState = VmState.VM_STATE_SHUT_OFF) {
    const host = await joinedHost(t, admin, name);
    const vmId = randomUUID();
    const { agent } = await ScriptedAgent.connect(targetOf(t), host.credential);
    await agent.batch([{ $case: 'vmUpdated', value: vm(vmId, `${name}-vm`, state) }]);
    await agent.next('ack');
    return { ...host, vmId, agent };
  }
  const statusOf = async (commandId: string) =>
    (await t.sql<{ status: string }[]>`select status from commands where id = ${commandId}`)[0]?.status;
  const operation = async (id: string) =>
    (await t.request('GET', `/api/v1/operations/${id}`, { token: admin })).body;

  it('sends a command once per stream, sends it again after a reconnect, and applies the final outcome once', async () => {
    const { credential, vmId, agent } = await hostWithVm('cmd-redeliver');
    const res = await t.request('POST', `/api/v1/vms/${vmId}/action`, {
      token: admin,
      body: { action: 'start' },
    });
    expect(res.status).toBe(202);
    const first = await agent.next('command');
    expect(await statusOf(first.commandId)).toBe('sent');
    // The pending-command poll (every 5 s) must not send it again on the same stream.
    await new Promise((resolve) => setTimeout(resolve, 5500));
    expect(agent.commands().filter((c) => c.commandId === first.commandId)).toHaveLength(1);
    await agent.commandUpdate({ commandId: first.commandId, status: CommandStatus.COMMAND_STATUS_ACCEPTED });
    await eventually(
      'running',
      () => statusOf(first.commandId),
      (s) => s === 'running',
    );
    expect((await operation(res.body.id)).status).toBe('running');

    // The agent reconnects before answering: the unfinished command comes again on the new stream.
    agent.close();
    await agent.ended;
    const again = await ScriptedAgent.connect(targetOf(t), credential);
    const resent = await again.agent.next('command');
    expect(resent).toEqual(first);

    await again.agent.commandUpdate({
      commandId: first.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    await again.agent.commandUpdate({
      commandId: first.commandId,
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'interrupted', message: 'late' },
    });
    await again.agent.heartbeat();
    const done = await t.request('GET', `/api/v1/operations/${res.body.id}?wait=5`, { token: admin });
    expect(done.body).toMatchObject({ status: 'succeeded', error: null });
    await eventually(
      'a later update is ignored',
      () => statusOf(first.commandId),
      (s) => s === 'succeeded',
    );
    const changes = await t.sql<{ data: { status: string } }[]>`
      select data from changes where kind = 'operation' and entity_id = ${res.body.id} order by id`;
    expect(changes.map((c) => c.data.status)).toEqual(['pending', 'running', 'succeeded']);

    // A finished command is not sent again on a later stream.
    again.agent.close();
    await again.agent.ended;
    const third = await ScriptedAgent.connect(targetOf(t), credential);
    await third.agent.heartbeat();
    await third.agent.next('heartbeat', 3000);
    expect(third.agent.commands()).toEqual([]);
    third.agent.close();
  }, 30_000);

  it('expires a command its host never received before the deadline, and fails its operation', async () => {
    const { vmId, agent } = await hostWithVm('cmd-expire', VmState.VM_STATE_RUNNING);
    // The command is written while the host is connected, but the stream drops before it is delivered.
    const sql = t.sql;
    const hostId = (await sql<{ host_id: string }[]>`select host_id from vms where id = ${vmId}`)[0]?.host_id;
    agent.close();
    await agent.ended;
    await eventually(
      'disconnected',
      async () => (await operationsHost(hostId ?? '')).status,
      (s) => s === 'disconnected',
    );
    const refused = await t.request('POST', `/api/v1/vms/${vmId}/action`, {
      token: admin,
      body: { action: 'pause' },
    });
    expect(refused.body.error.code).toBe('host_disconnected');

    await sql`update hosts set status = 'connected' where id = ${hostId ?? ''}`;
    const res = await t.request('POST', `/api/v1/vms/${vmId}/action`, {
      token: admin,
      body: { action: 'pause' },
    });
    expect(res.status).toBe(202);
    await sql`update hosts set status = 'disconnected' where id = ${hostId ?? ''}`;
    clock.advance(61_000);
    const failed = await t.request('GET', `/api/v1/operations/${res.body.id}?wait=10`, { token: admin });
    expect(failed.body).toMatchObject({ status: 'failed', error: { code: 'deadline_exceeded' } });
    const rows = await sql<
      { status: string }[]
    >`select status from commands where operation_id = ${res.body.id}`;
    expect(rows.map((r) => r.status)).toEqual(['expired']);
  }, 30_000);

  it('keeps a sent command whose answer was lost while its host is away; sent again on return, the agent’s answer applies', async () => {
    const { hostId, credential, vmId, agent } = await hostWithVm('cmd-answer-lost', VmState.VM_STATE_RUNNING);
    const res = await t.request('POST', `/api/v1/vms/${vmId}/action`, {
      token: admin,
      body: { action: 'pause' },
    });
    const first = await agent.next('command');
    // The agent ran it, but the stream broke before its answer arrived; it stays away past the deadline.
    agent.close();
    await agent.ended;
    await eventually(
      'disconnected',
      async () => (await operationsHost(hostId)).status,
      (s) => s === 'disconnected',
    );
    clock.advance(120_000);
    await t.services.commands.expireOverdue();
    expect(await statusOf(first.commandId)).toBe('sent');
    expect((await operation(res.body.id)).status).not.toBe('failed');

    const back = await ScriptedAgent.connect(targetOf(t), credential);
    expect(await back.agent.next('command')).toEqual(first);
    await back.agent.commandUpdate({
      commandId: first.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    const done = await t.request('GET', `/api/v1/operations/${res.body.id}?wait=5`, { token: admin });
    expect(done.body).toMatchObject({ status: 'succeeded', error: null });
    back.agent.close();
    await back.agent.ended;
  }, 30_000);

  it('expires a sent command its connected host leaves unanswered past the deadline and the grace', async () => {
    const { vmId, agent } = await hostWithVm('cmd-unanswered', VmState.VM_STATE_RUNNING);
    const res = await t.request('POST', `/api/v1/vms/${vmId}/action`, {
      token: admin,
      body: { action: 'pause' },
    });
    const sent = await agent.next('command');
    clock.advance(60_000);
    await t.services.commands.expireOverdue();
    expect(await statusOf(sent.commandId)).toBe('sent');
    clock.advance(31_000);
    await agent.heartbeat();
    await t.services.commands.expireOverdue();
    expect(await statusOf(sent.commandId)).toBe('expired');
    const failed = await t.request('GET', `/api/v1/operations/${res.body.id}?wait=5`, { token: admin });
    expect(failed.body).toMatchObject({
      status: 'failed',
      error: {
        code: 'deadline_exceeded',
        message: 'the host’s agent did not answer the command by its deadline',
      },
    });
    agent.close();
    await agent.ended;
  }, 30_000);

  const operationsHost = async (hostId: string) =>
    (await t.request('GET', `/api/v1/hosts/${hostId}`, { token: admin })).body;
});
