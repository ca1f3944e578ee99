import { randomUUID } from 'node:crypto';
import { VmRemovalReason, VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually, joinedHost, targetOf } from '../../test/support/agent-test-helpers.ts';
import { type ScriptedHost, twoHostsWithVm } from '../../test/support/migration-test-helpers.ts';
import { RealTimeClock } from '../../test/support/real-time-clock.ts';
import { ScriptedAgent, vm } from '../../test/support/scripted-agent.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

// Every refusal comes before anything moves: no migration row, no command to any agent.
describe('POST /api/v1/vms/:id/migrate', () => {
  let t: TestApp;
  let admin: string;
  let operator: string;
  let source: ScriptedHost;
  let destination: ScriptedHost;
  let vmId: string;
  const stopped = randomUUID();
  const paused = randomUUID();
  const others: ScriptedAgent[] = [];

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    admin = await adminToken(t);
    operator = (await t.userWithRole('operator')).tokens.token;
    ({ source, destination, vmId } = await twoHostsWithVm(t, admin, 'refuse'));
    await source.agent.batch([
      { $case: 'vmUpdated', value: vm(stopped, 'stopped-vm', VmState.VM_STATE_SHUT_OFF) },
      { $case: 'vmUpdated', value: vm(paused, 'paused-vm', VmState.VM_STATE_PAUSED) },
    ]);
    await source.agent.next('ack');
  });
  afterAll(async () => {
    for (const a of [source?.agent, destination?.agent, ...others]) a?.close();
    await t?.close();
  });

  const migrate = (id: string, body: unknown, token = operator) =>
    t.request('POST', `/api/v1/vms/${id}/migrate`, { token, body });
  const migrations = async () => (await t.sql<{ id: string }[]>`select id from migrations`).length;
  const refused = async (id: string, body: unknown, status: number, code: string, token = operator) => {
    const before = await migrations();
    const res = await migrate(id, body, token);
    expect(res.status, res.text).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message.length).toBeGreaterThan(10);
    expect(await migrations()).toBe(before);
    return res;
  };

  it('refuses an unknown VM or destination (404), naming which', async () => {
    const vmMissing = await refused(
      randomUUID(),
      { destination_host_id: destination.hostId },
      404,
      'not_found',
    );
    expect(vmMissing.body.error.message).toContain('VM');
    const hostMissing = await refused(vmId, { destination_host_id: randomUUID() }, 404, 'not_found');
    expect(hostMissing.body.error.message).toContain('destination');
  });

  it('refuses the VM’s own host, a VM that is not running (live), and a viewer', async () => {
    await refused(vmId, { destination_host_id: source.hostId.toUpperCase() }, 409, 'destination_is_source');
    await refused(stopped, { destination_host_id: destination.hostId }, 409, 'vm_not_running');
    await refused(paused, { destination_host_id: destination.hostId, live: true }, 409, 'vm_not_running');
    const viewer = (await t.userWithRole('viewer')).tokens.token;
    await refused(vmId, { destination_host_id: destination.hostId }, 403, 'forbidden', viewer);
  });

  it('validates the payload (400 naming the field)', async () => {
    const res = await refused(
      vmId,
      { destination_host_id: destination.hostId, copy_storage: 'some' },
      400,
      'validation_failed',
    );
    expect(JSON.stringify(res.body.error.details)).toContain('copy_storage');
    await refused(vmId, { destination_host_id: 'not-a-uuid' }, 400, 'validation_failed');
    await refused(
      vmId,
      { destination_host_id: destination.hostId, bandwidth_mibps: -1 },
      400,
      'validation_failed',
    );
    await refused(vmId, { live: true }, 400, 'validation_failed');
  });

  it('refuses a misspelt field instead of migrating with the default it stood for', async () => {
    // The seed's payload with one typo: `copy_storge: all` would have moved a VM whose disks are local
    // with copy_storage none, and `undefine_souce: false` would have removed the source's definition.
    const seed = {
      destination_host_id: destination.hostId,
      live: true,
      persistent: true,
      undefine_source: true,
      copy_storage: 'none',
    };
    for (const [typo, value] of [
      ['copy_storge', 'all'],
      ['undefine_souce', false],
    ] as const) {
      const res = await refused(vmId, { ...seed, [typo]: value }, 400, 'validation_failed');
      expect(res.body.error.details).toEqual([{ path: 'body', message: `unknown field: ${typo}` }]);
    }
  });

  it('refuses a destination without a migration URI, or disconnected', async () => {
    const bare = await joinedHost(t, admin, 'refuse-bare');
    const { agent } = await ScriptedAgent.connect(targetOf(t), bare.credential, { migrationUri: '' });
    others.push(agent);
    await refused(vmId, { destination_host_id: bare.hostId }, 409, 'destination_not_migration_target');
    agent.close();
    await agent.ended;
    await eventually(
      'the bare host disconnected',
      async () => (await t.request('GET', `/api/v1/hosts/${bare.hostId}`, { token: admin })).body.status,
      (s) => s === 'disconnected',
    );
    const res = await refused(vmId, { destination_host_id: bare.hostId }, 409, 'host_disconnected');
    expect(res.body.error.message).toContain('destination');
  });

  it('refuses a destination where another VM has the VM’s name (libvirt keeps names unique per host)', async () => {
    const vmName = (await t.request('GET', `/api/v1/vms/${vmId}`, { token: operator })).body.name;
    const namesake = randomUUID();
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(namesake, vmName) }]);
    await destination.agent.next('ack');
    const res = await refused(vmId, { destination_host_id: destination.hostId }, 409, 'name_in_use');
    expect(res.body.error.message).toContain(`named '${vmName}' (${namesake})`);
    await destination.agent.batch([
      {
        $case: 'vmRemoved',
        value: { id: namesake, name: vmName, reason: VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED },
      },
    ]);
    await destination.agent.next('ack');
  });

  it('takes exactly one of many concurrent requests for one VM; the rest are migration_in_progress, and a power action waits too', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => migrate(vmId, { destination_host_id: destination.hostId })),
    );
    const accepted = results.filter((r) => r.status === 202);
    expect(accepted).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 202)) {
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('migration_in_progress');
    }
    expect(accepted[0]?.body).toEqual({ migration_id: expect.any(String), status: 'initiated' });
    const rows = await t.sql<{ id: string }[]>`select id from migrations where vm_id = ${vmId}`;
    expect(rows.map((r) => r.id)).toEqual([accepted[0]?.body.migration_id]);
    const power = await t.request('POST', `/api/v1/vms/${vmId}/action`, {
      token: operator,
      body: { action: 'pause' },
    });
    expect(power.status).toBe(409);
    expect(power.body.error.code).toBe('operation_in_progress');
  });

  it('refuses a migration while a power action on the VM is unfinished (operation_in_progress)', async () => {
    const power = await t.request('POST', `/api/v1/vms/${paused}/action`, {
      token: operator,
      body: { action: 'resume' },
    });
    expect(power.status).toBe(202);
    await refused(
      paused,
      { destination_host_id: destination.hostId, live: false },
      409,
      'operation_in_progress',
    );
  });
});
