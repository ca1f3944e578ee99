import { randomUUID } from 'node:crypto';
import { CommandStatus, VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually, joinedHost, targetOf } from '../../test/support/agent-test-helpers.ts';
import { RealTimeClock } from '../../test/support/real-time-clock.ts';
import { ScriptedAgent, vm } from '../../test/support/scripted-agent.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

// GET /api/v1/hosts/:id, /vms/:id, /operations/:id and /operations: one host fed by a scripted agent.
describe('reading hosts, VMs and operations', () => {
  let t: TestApp;
  let viewer: string;
  let hostId: string;
  let operationId: string;
  const vmId = randomUUID();

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    const admin = await adminToken(t);
    viewer = (await t.userWithRole('viewer')).tokens.token;
    const host = await joinedHost(t, admin, 'read-node.corp.example');
    hostId = host.hostId;
    const { agent } = await ScriptedAgent.connect(targetOf(t), host.credential);
    await agent.batch([{ $case: 'vmUpdated', value: vm(vmId, 'reader', VmState.VM_STATE_SHUT_OFF) }]);
    await agent.next('ack');
    const res = await t.request('POST', `/api/v1/vms/${vmId}/action`, {
      token: admin,
      body: { action: 'start' },
    });
    operationId = res.body.id;
    const command = await agent.next('command');
    await agent.commandUpdate({
      commandId: command.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    await t.request('GET', `/api/v1/operations/${operationId}?wait=5`, { token: admin });
    agent.close();
    await eventually(
      'the host disconnected',
      async () => (await t.request('GET', `/api/v1/hosts/${hostId}`, { token: admin })).body.status,
      (s) => s === 'disconnected',
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET /api/v1/hosts/:id: the seed’s fields and what the agent said, in any id case', async () => {
    const res = await t.request('GET', `/api/v1/hosts/${hostId.toUpperCase()}`, { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: hostId,
      hostname: 'read-node.corp.example',
      status: 'disconnected',
      sync_cursor: 1,
      driver: 'simulated',
      host_uuid: '00000000-0000-0000-0000-000000000042',
    });
    const list = await t.request('GET', '/api/v1/hosts', { token: viewer });
    expect(list.body.hosts).toEqual([res.body]);
  });

  it('GET /api/v1/vms/:id', async () => {
    const res = await t.request('GET', `/api/v1/vms/${vmId.toUpperCase()}`, { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: vmId,
      host_id: hostId,
      name: 'reader',
      state: 'shut_off',
      conflict: null,
    });
  });

  it('GET /api/v1/operations/:id and the list with filters and pages', async () => {
    const one = await t.request('GET', `/api/v1/operations/${operationId.toUpperCase()}`, { token: viewer });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: operationId, kind: 'vm.start', status: 'succeeded', vm_id: vmId });
    const list = await t.request('GET', `/api/v1/operations?vm_id=${vmId.toUpperCase()}&status=succeeded`, {
      token: viewer,
    });
    expect(list.body).toEqual({ operations: [one.body], next_before: null });
    const page = await t.request('GET', '/api/v1/operations?limit=1', { token: viewer });
    expect(page.body.next_before).toBe(operationId);
    const none = await t.request('GET', `/api/v1/operations?host_id=${randomUUID()}`, { token: viewer });
    expect(none.body).toEqual({ operations: [], next_before: null });
    const bad = await t.request('GET', '/api/v1/operations?status=done&kind=vm.explode', { token: viewer });
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'query.kind',
      'query.status',
    ]);
  });

  it('404 for unknown ids, 400 for malformed ones, 401 without a token', async () => {
    for (const path of ['/api/v1/hosts', '/api/v1/vms', '/api/v1/operations']) {
      const unknown = await t.request('GET', `${path}/${randomUUID()}`, { token: viewer });
      expect(unknown.status, path).toBe(404);
      expect(unknown.body.error.code).toBe('not_found');
      const bad = await t.request('GET', `${path}/123`, { token: viewer });
      expect(bad.status, path).toBe(400);
      expect(bad.body.error.details[0].path).toBe('path.id');
      expect((await t.request('GET', `${path}/${randomUUID()}`)).status).toBe(401);
    }
  });
});
