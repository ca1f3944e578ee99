import { randomUUID } from 'node:crypto';
import { GoodbyeReason, VmRemovalReason, VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually, joinedHost, targetOf } from './support/agent-test-helpers.ts';
import { holdInTransaction } from './support/held-lock.ts';
import { RealTimeClock } from './support/real-time-clock.ts';
import { ScriptedAgent, vm } from './support/scripted-agent.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

// The sync rules over real gRPC: Hello → Welcome with the applied cursor; batches continue exactly from
// it and are acknowledged once durable; snapshots reconcile deletions; a replaced stream can never
// apply; heartbeats and the deadline decide connected/disconnected.
describe('agent state sync', () => {
  let t: TestApp;
  let admin: string;
  const vmsOf = async (hostId: string) =>
    (await t.request('GET', `/api/v1/vms?host_id=${hostId}`, { token: admin })).body.vms as Array<{
      id: string;
      name: string;
      state: string;
      stale: boolean;
      conflict: { host_ids: string[] } | null;
    }>;
  const hostOf = async (hostId: string) =>
    (await t.request('GET', `/api/v1/hosts/${hostId}`, { token: admin })).body;

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    admin = await adminToken(t);
  });
  afterAll(async () => {
    // No stream ended on an error the controller did not expect.
    expect(t?.logs.filter((l) => (l.level as number) >= 50).map((l) => l.msg)).toEqual([]);
    await t?.close();
  });

  it('welcomes with the applied cursor and the heartbeat settings, and marks the host connected', async () => {
    const { hostId, credential } = await joinedHost(t, admin, 'sync-hello');
    const { agent, welcome } = await ScriptedAgent.connect(targetOf(t), credential, {
      hostname: 'sync-hello',
    });
    expect(welcome).toMatchObject({
      hostId,
      appliedCursor: 0,
      heartbeatIntervalMs: 1000,
      heartbeatDeadlineMs: 5000,
    });
    const host = await hostOf(hostId);
    expect(host).toMatchObject({
      status: 'connected',
      sync_cursor: 0,
      driver: 'simulated',
      agent_version: 'scripted-0.0.1',
      hypervisor: 'QEMU 7.2.0',
      cpus: 8,
      memory_mib: 16384,
      migration_uri: 'qemu+tcp://127.0.0.1:16509/system',
    });
    // The controller's heartbeats arrive at the interval it set.
    await agent.next('heartbeat', 3000);
    agent.close();
    await eventually(
      'disconnected after the stream ended',
      () => hostOf(hostId),
      (h) => h.status === 'disconnected',
    );
  });

  it('applies batches in cursor order, acks each, and resumes from the applied cursor after a reconnect', async () => {
    const { hostId, credential } = await joinedHost(t, admin, 'sync-replay');
    const a = randomUUID();
    const b = randomUUID();
    const first = await ScriptedAgent.connect(targetOf(t), credential);
    const c1 = await first.agent.batch([
      { $case: 'vmUpdated', value: vm(a, 'alpha') },
      { $case: 'vmUpdated', value: vm(b, 'beta', VmState.VM_STATE_SHUT_OFF) },
    ]);
    expect((await first.agent.next('ack')).cursor).toBe(c1);
    const c2 = await first.agent.batch([
      { $case: 'vmUpdated', value: vm(a, 'alpha', VmState.VM_STATE_PAUSED) },
    ]);
    expect((await first.agent.next('ack')).cursor).toBe(c2);
    expect((await vmsOf(hostId)).map((v) => [v.name, v.state])).toEqual([
      ['alpha', 'paused'],
      ['beta', 'shut_off'],
    ]);
    expect((await hostOf(hostId)).sync_cursor).toBe(3);
    first.agent.close();
    await first.agent.ended;

    const second = await ScriptedAgent.connect(targetOf(t), credential);
    expect(second.welcome.appliedCursor).toBe(3);
    await second.agent.batch([
      {
        $case: 'vmRemoved',
        value: { id: b, name: 'beta', reason: VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED },
      },
    ]);
    expect((await second.agent.next('ack')).cursor).toBe(4);
    expect((await vmsOf(hostId)).map((v) => v.name)).toEqual(['alpha']);
    // The change log has one row per applied VM change, in order.
    const changes = await t.sql<{ entity_id: string; op: string }[]>`
      select entity_id, op from changes where kind = 'vm' and entity_id in (${a}, ${b}) order by id`;
    expect(changes.map((c) => [c.entity_id === a ? 'a' : 'b', c.op])).toEqual([
      ['a', 'upsert'],
      ['b', 'upsert'],
      ['a', 'upsert'],
      ['b', 'delete'],
    ]);
    second.agent.close();
  });

  it('applies batches sent back to back without waiting for acks (merged when they queue up), in order', async () => {
    const { hostId, credential } = await joinedHost(t, admin, 'sync-pipelined');
    const { agent } = await ScriptedAgent.connect(targetOf(t), credential);
    const ids = Array.from({ length: 5 }, () => randomUUID());
    let last = 0;
    for (let round = 0; round < 40; round++) {
      last = await agent.batch(
        ids.map((id, i) => ({
          $case: 'vmUpdated' as const,
          value: vm(id, `p-${i}`, round % 2 === 0 ? VmState.VM_STATE_RUNNING : VmState.VM_STATE_PAUSED, {
            vcpus: round + 1,
          }),
        })),
      );
    }
    await eventually(
      'the last batch acknowledged',
      async () => agent.acks.at(-1),
      (c) => c === last,
    );
    // Acks only grow, and the last one covers everything.
    expect([...agent.acks].sort((a, b) => a - b)).toEqual(agent.acks);
    expect((await hostOf(hostId)).sync_cursor).toBe(200);
    const vms = (await t.request('GET', `/api/v1/vms?host_id=${hostId}`, { token: admin })).body.vms;
    expect(vms.map((v: { state: string; vcpus: number }) => [v.state, v.vcpus])).toEqual(
      ids.map(() => ['paused', 40]),
    );
    agent.close();
  });

  it('ends a stream whose batch does not continue from the applied cursor (PROTOCOL_ERROR), applying nothing', async () => {
    const { hostId, credential } = await joinedHost(t, admin, 'sync-gap');
    const { agent } = await ScriptedAgent.connect(targetOf(t), credential);
    await agent.batch([{ $case: 'vmUpdated', value: vm(randomUUID(), 'gap') }], 5);
    const end = await agent.ended;
    expect(end.goodbye?.reason).toBe(GoodbyeReason.GOODBYE_REASON_PROTOCOL_ERROR);
    expect(end.goodbye?.message).toContain('the next one after 0 is 1');
    expect(await vmsOf(hostId)).toEqual([]);
    expect((await hostOf(hostId)).sync_cursor).toBe(0);

    const again = await ScriptedAgent.connect(targetOf(t), credential);
    await again.agent.send({
      $case: 'state',
      value: {
        changes: [
          { cursor: 1, observedAtMs: 0, change: { $case: 'vmUpdated', value: vm(randomUUID(), 'one') } },
          { cursor: 3, observedAtMs: 0, change: { $case: 'vmUpdated', value: vm(randomUUID(), 'three') } },
        ],
      },
    });
    expect((await again.agent.ended).goodbye?.reason).toBe(GoodbyeReason.GOODBYE_REASON_PROTOCOL_ERROR);
    expect(await vmsOf(hostId)).toEqual([]);
  });

  it('reconciles deletions from a snapshot and continues after its cursor', async () => {
    const { hostId, credential } = await joinedHost(t, admin, 'sync-snapshot');
    const [keep, drop, added] = [randomUUID(), randomUUID(), randomUUID()];
    const first = await ScriptedAgent.connect(targetOf(t), credential);
    await first.agent.batch([
      { $case: 'vmUpdated', value: vm(keep, 'keep') },
      { $case: 'vmUpdated', value: vm(drop, 'drop') },
    ]);
    await first.agent.next('ack');
    first.agent.close();
    await first.agent.ended;

    // The agent restarted: its journal starts above everything; it sends a snapshot at cursor 100.
    const second = await ScriptedAgent.connect(targetOf(t), credential, {
      journalFloor: 99,
      journalHead: 100,
    });
    expect(second.welcome.appliedCursor).toBe(2);
    await second.agent.snapshot(100, [
      vm(keep, 'keep', VmState.VM_STATE_SHUT_OFF),
      vm(added, 'added'),
      vm(randomUUID(), 'another'),
    ]);
    expect((await second.agent.next('ack')).cursor).toBe(100);
    expect((await vmsOf(hostId)).map((v) => [v.name, v.state])).toEqual([
      ['added', 'running'],
      ['another', 'running'],
      ['keep', 'shut_off'],
    ]);
    await second.agent.batch([{ $case: 'vmUpdated', value: vm(added, 'added', VmState.VM_STATE_PAUSED) }]);
    expect((await second.agent.next('ack')).cursor).toBe(101);

    // A snapshot behind the applied cursor is a protocol error and changes nothing.
    await second.agent.snapshot(50, [vm(keep, 'keep')]);
    expect((await second.agent.ended).goodbye?.reason).toBe(GoodbyeReason.GOODBYE_REASON_PROTOCOL_ERROR);
    expect((await vmsOf(hostId)).map((v) => v.name)).toEqual(['added', 'another', 'keep']);
  });

  it('a replaced stream is told so and can never apply anything after the takeover', async () => {
    const { hostId, credential } = await joinedHost(t, admin, 'sync-takeover');
    const old = await ScriptedAgent.connect(targetOf(t), credential);
    const fresh = await ScriptedAgent.connect(targetOf(t), credential);
    expect((await old.agent.ended).goodbye?.reason).toBe(GoodbyeReason.GOODBYE_REASON_REPLACED);
    // Even a batch the old stream managed to send is refused by its epoch (checked in the database).
    const owner = await t.sql<
      { stream_epoch: string }[]
    >`select stream_epoch from hosts where id = ${hostId}`;
    const epoch = Number(owner[0]?.stream_epoch);
    const stale = await t.services.ingest.applyBatch({ hostId, epoch: epoch - 1 }, [
      { cursor: 1, observedAtMs: 0, change: { $case: 'vmUpdated', value: vm(randomUUID(), 'stale') } },
    ]);
    expect(stale).toEqual({ kind: 'replaced' });
    expect(await vmsOf(hostId)).toEqual([]);
    await fresh.agent.batch([{ $case: 'vmUpdated', value: vm(randomUUID(), 'fresh') }]);
    expect((await fresh.agent.next('ack')).cursor).toBe(1);
    expect((await vmsOf(hostId)).map((v) => v.name)).toEqual(['fresh']);
    expect((await hostOf(hostId)).status).toBe('connected');
    fresh.agent.close();
  });

  it('flags a VM reported by two hosts as a conflict, never merges it, and settles when one drops it', async () => {
    const a = await joinedHost(t, admin, 'conflict-a');
    const b = await joinedHost(t, admin, 'conflict-b');
    const twin = randomUUID();
    const sa = await ScriptedAgent.connect(targetOf(t), a.credential);
    const sb = await ScriptedAgent.connect(targetOf(t), b.credential);
    await sa.agent.batch([{ $case: 'vmUpdated', value: vm(twin, 'twin') }]);
    await sa.agent.next('ack');
    await sb.agent.batch([
      { $case: 'vmUpdated', value: vm(twin, 'twin-elsewhere', VmState.VM_STATE_PAUSED) },
    ]);
    await sb.agent.next('ack');
    const seen = (await t.request('GET', `/api/v1/vms/${twin.toUpperCase()}`, { token: admin })).body;
    expect(seen).toMatchObject({
      host_id: a.hostId,
      name: 'twin',
      state: 'running',
      conflict: { host_ids: [b.hostId] },
    });
    expect(
      t.logs.some((l) => l.vmId === twin && String(l.msg).includes('two hosts report the same VM id')),
    ).toBe(true);

    // The first host drops it (as after a migration made with virsh): the second host's record takes its place.
    await sa.agent.batch([
      {
        $case: 'vmRemoved',
        value: { id: twin, name: 'twin', reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED },
      },
    ]);
    await sa.agent.next('ack');
    const moved = (await t.request('GET', `/api/v1/vms/${twin}`, { token: admin })).body;
    expect(moved).toMatchObject({
      host_id: b.hostId,
      name: 'twin-elsewhere',
      state: 'paused',
      conflict: null,
    });
    sa.agent.close();
    sb.agent.close();
  });

  it("does not count the time its own apply takes as the agent's silence: a batch held 7 s by a lock keeps its stream", async () => {
    const { hostId, credential } = await joinedHost(t, admin, 'sync-slow-apply');
    const { agent } = await ScriptedAgent.connect(targetOf(t), credential); // heartbeats every second
    // The apply's conditional update of the host's cursor waits on this row lock, past the 5 s deadline.
    const lock = await holdInTransaction(
      t.sql,
      (tx) => tx`select 1 from hosts where id = ${hostId} for update`,
    );
    const cursor = await agent.batch([{ $case: 'vmUpdated', value: vm(randomUUID(), 'slow') }]);
    await new Promise((resolve) => setTimeout(resolve, 7000));
    await lock.release();
    expect((await agent.next('ack', 5000)).cursor).toBe(cursor);
    // The heartbeats that queued meanwhile count, and the stream lives on past another deadline's worth.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const ended = await Promise.race([agent.ended.then(() => 'ended'), Promise.resolve('open')]);
    expect(ended).toBe('open');
    expect((await hostOf(hostId)).status).toBe('connected');
    agent.close();
  }, 30_000);

  it('keeps a host connected through a 2 s pause, and disconnects it (VMs stale) past the deadline', async () => {
    const { hostId, credential } = await joinedHost(t, admin, 'sync-deadline');
    const { agent } = await ScriptedAgent.connect(targetOf(t), credential, {}, { heartbeats: false });
    await agent.batch([{ $case: 'vmUpdated', value: vm(randomUUID(), 'guest') }]);
    await agent.next('ack');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await hostOf(hostId)).status).toBe('connected');
    await agent.heartbeat();
    // Silence now: the deadline (5 s) passes, the controller ends the stream and the host is disconnected.
    const silentFrom = Date.now();
    const end = await agent.ended;
    expect(Date.now() - silentFrom).toBeGreaterThanOrEqual(4900);
    expect(end.code).toBeDefined();
    const host = await eventually(
      'disconnected',
      () => hostOf(hostId),
      (h) => h.status === 'disconnected',
    );
    expect(Date.now() - silentFrom).toBeLessThan(7000);
    expect(host.disconnected_at).not.toBeNull();
    const [guest] = await vmsOf(hostId);
    expect(guest).toMatchObject({ name: 'guest', state: 'running', stale: true });
  }, 20_000);
});
