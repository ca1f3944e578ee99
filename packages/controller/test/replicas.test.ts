import { randomUUID } from 'node:crypto';
import { CommandStatus, GoodbyeReason, PowerOp, VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../src/controller.ts';
import { disconnectSilentHosts } from '../src/hosts/host-queries.ts';
import { adminToken, eventually, joinedHost, targetOf } from './support/agent-test-helpers.ts';
import { RealTimeClock } from './support/real-time-clock.ts';
import { type ControllerTarget, ScriptedAgent, vm } from './support/scripted-agent.ts';
import { startSecondReplica } from './support/second-replica.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

// Several controller replicas on one PostgreSQL database: any replica takes the REST call, the replica
// holding the agent's stream delivers the command (LISTEN/NOTIFY). And the embedded database, where
// one controller delivers in-process through the same interface.
describe('two controller replicas on one database', () => {
  let a: TestApp;
  let b: RunningController;
  let closeB: (() => Promise<void>) | undefined;
  let admin: string;
  let targetB: ControllerTarget;

  beforeAll(async () => {
    a = await createTestApp({ clock: new RealTimeClock() });
    admin = await adminToken(a);
    const replica = await startSecondReplica(a);
    b = replica.controller;
    closeB = replica.close;
    targetB = { address: b.grpc.address, caPem: null };
  });
  afterAll(async () => {
    await closeB?.();
    await a?.close();
  });

  it('delivers a REST action taken by replica A to the agent connected to replica B, and back', async () => {
    const host = await joinedHost(a, admin, 'replica-node');
    const vmId = randomUUID();
    const { agent } = await ScriptedAgent.connect(targetB, host.credential);
    await agent.batch([{ $case: 'vmUpdated', value: vm(vmId, 'spread', VmState.VM_STATE_SHUT_OFF) }]);
    await agent.next('ack');
    const stream = await a.sql<
      { stream_replica: string }[]
    >`select stream_replica from hosts where id = ${host.hostId}`;
    expect(stream[0]?.stream_replica).toBe(b.services.agents.replica);
    expect(a.services.agents.size).toBe(0);

    const res = await a.request('POST', `/api/v1/vms/${vmId}/action`, {
      token: admin,
      body: { action: 'start' },
    });
    expect(res.status).toBe(202);
    const command = await agent.next('command', 5000);
    expect(command.action).toEqual({
      $case: 'power',
      value: { vmId, op: PowerOp.POWER_OP_START, timeoutS: 0, forceAfterTimeout: false },
    });
    await agent.commandUpdate({
      commandId: command.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    // A waits for the outcome B applied: woken by B's notification.
    const done = await a.request('GET', `/api/v1/operations/${res.body.id}?wait=5`, { token: admin });
    expect(done.body.status).toBe('succeeded');
    agent.close();
  });

  it('serves VM reads from each replica’s cache: a change ingested by B reaches A’s list through the change log', async () => {
    const host = await joinedHost(a, admin, 'replica-cache');
    const { agent } = await ScriptedAgent.connect(targetB, host.credential);
    // Both caches loaded (the first read loads them) before the change.
    await a.request('GET', '/api/v1/vms?limit=1', { token: admin });
    await b.services.vms.list({}, { limit: 1 });
    const before = a.services.vmCache.size;
    const vmId = randomUUID();
    await agent.batch([{ $case: 'vmUpdated', value: vm(vmId, 'cached', VmState.VM_STATE_RUNNING) }]);
    await agent.next('ack');
    // B applied its own commit; A learns of it from the notification alone, with no read asking.
    expect((await b.services.vms.get(vmId)).name).toBe('cached');
    await eventually(
      'A’s cache tailed B’s change',
      async () => a.services.vmCache.size,
      (size) => size === before + 1,
    );
    const listed = await a.request('GET', `/api/v1/vms?host_id=${host.hostId}`, { token: admin });
    expect(listed.body.vms).toMatchObject([{ id: vmId, name: 'cached', state: 'running', stale: false }]);
    await agent.batch([{ $case: 'vmUpdated', value: vm(vmId, 'cached', VmState.VM_STATE_PAUSED) }]);
    await agent.next('ack');
    await eventually(
      'A shows the new state',
      async () => (await a.request('GET', `/api/v1/vms/${vmId}`, { token: admin })).body.state,
      (state) => state === 'paused',
    );
    // The stream drops on B: A's list marks the VM stale.
    agent.close();
    await agent.ended;
    await eventually(
      'A shows it stale',
      async () => (await a.request('GET', `/api/v1/vms/${vmId}`, { token: admin })).body.stale,
      (stale) => stale === true,
    );
  });

  it('moves a host’s stream from one replica to the other: the old one is replaced, DELETE on A cuts B’s', async () => {
    const host = await joinedHost(a, admin, 'replica-moving');
    const onA = await ScriptedAgent.connect(targetOf(a), host.credential);
    const onB = await ScriptedAgent.connect(targetB, host.credential);
    expect((await onA.agent.ended).goodbye?.reason).toBe(GoodbyeReason.GOODBYE_REASON_REPLACED);
    await onB.agent.batch([{ $case: 'vmUpdated', value: vm(randomUUID(), 'moved') }]);
    expect((await onB.agent.next('ack')).cursor).toBe(1);
    const started = Date.now();
    expect((await a.request('DELETE', `/api/v1/hosts/${host.hostId}`, { token: admin })).status).toBe(204);
    expect((await onB.agent.ended).goodbye?.reason).toBe(GoodbyeReason.GOODBYE_REASON_REVOKED);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('disconnects the hosts of a replica that stopped answering (the sweep of the other replica)', async () => {
    const host = await joinedHost(a, admin, 'replica-orphan');
    const { agent } = await ScriptedAgent.connect(targetB, host.credential);
    await agent.heartbeat();
    // Replica B's process "dies" for this host: its stream is forgotten without a goodbye, as after a crash.
    await a.sql`update hosts set last_seen_at = now() - interval '1 hour' where id = ${host.hostId}`;
    await a.sql`update hosts set stream_replica = 'gone:1:000000', stream_epoch = stream_epoch + 1 where id = ${host.hostId}`;
    await eventually(
      'swept to disconnected',
      async () => (await a.request('GET', `/api/v1/hosts/${host.hostId}`, { token: admin })).body.status,
      (s) => s === 'disconnected',
    );
    agent.close();
  });

  it('a live stream whose replica fell behind, swept to disconnected by another: told it no longer holds the host; its agent reconnects and the host is connected again', async () => {
    const host = await joinedHost(a, admin, 'replica-late');
    const { agent } = await ScriptedAgent.connect(targetB, host.credential);
    await agent.heartbeat();
    await eventually(
      'connected',
      async () => (await a.request('GET', `/api/v1/hosts/${host.hostId}`, { token: admin })).body.status,
      (s) => s === 'connected',
    );
    // Replica A's sweep, its clock a minute ahead of B's last-seen flush.
    const swept = await disconnectSilentHosts(a.sql, new Date(Date.now() + 60_000), new Date(), []);
    expect(swept.map((h) => h.id)).toContain(host.hostId);
    await agent.heartbeat();
    const end = await agent.ended;
    expect(end.goodbye?.reason).toBe(GoodbyeReason.GOODBYE_REASON_REPLACED);
    const again = await ScriptedAgent.connect(targetB, host.credential);
    await again.agent.heartbeat();
    await eventually(
      'connected again',
      async () => (await a.request('GET', `/api/v1/hosts/${host.hostId}`, { token: admin })).body.status,
      (s) => s === 'connected',
    );
    again.agent.close();
  });
});

describe('the embedded database', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ database: 'embedded', clock: new RealTimeClock() });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('delivers commands in-process and serves gRPC on its single connection', async () => {
    const admin = await adminToken(t);
    const host = await joinedHost(t, admin, 'embedded-node');
    const vmId = randomUUID();
    const { agent } = await ScriptedAgent.connect(targetOf(t), host.credential);
    await agent.batch([{ $case: 'vmUpdated', value: vm(vmId, 'local', VmState.VM_STATE_RUNNING) }]);
    await agent.next('ack');
    const pending = (async () => {
      const command = await agent.next('command', 5000);
      await agent.commandUpdate({
        commandId: command.commandId,
        status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
      });
    })();
    const res = await t.request('POST', `/api/v1/vms/${vmId}/action?wait=5`, {
      token: admin,
      body: { action: 'stop', force: true },
    });
    await pending;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ kind: 'vm.force_stop', status: 'succeeded' });
    agent.close();
  });
});
