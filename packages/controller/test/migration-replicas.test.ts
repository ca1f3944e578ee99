import { CommandStatus } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../src/controller.ts';
import { adminToken, eventually } from './support/agent-test-helpers.ts';
import {
  migrationUntil,
  performStarts,
  prepareOn,
  twoHostsWithVm,
} from './support/migration-test-helpers.ts';
import { RealTimeClock } from './support/real-time-clock.ts';
import { vm } from './support/scripted-agent.ts';
import { startSecondReplica } from './support/second-replica.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

const LEASE_MS = 1_500;

// Two controller replicas on one PostgreSQL database: exactly one coordinates a migration (a lease with
// an epoch in its row); when it dies the other takes over once the lease ran out and settles the
// migration from what the agents reported meanwhile; the one that lost the lease cannot act.
describe('migration coordinator across two replicas', () => {
  let a: TestApp;
  let b: RunningController;
  let closeB: (() => Promise<void>) | undefined;
  let admin: string;

  beforeAll(async () => {
    a = await createTestApp({ clock: new RealTimeClock(), migrationLeaseMs: LEASE_MS });
    admin = await adminToken(a);
    const replica = await startSecondReplica(a, { migrationLeaseMs: LEASE_MS });
    b = replica.controller;
    closeB = replica.close;
  });
  afterAll(async () => {
    await closeB?.();
    await a?.close();
  });

  const lease = async (id: string) =>
    (
      await a.sql<{ coordinator: string; lease_epoch: string; lease_expires_at: Date }[]>`
        select coordinator, lease_epoch, lease_expires_at from migrations where id = ${id}`
    )[0];

  it('B coordinates, dies, A takes over after the lease expired and settles; B’s stale epoch cannot act', async () => {
    // The agents' streams are on A; B alone coordinates at first (A's coordinator is stopped).
    const { source, destination, vmId, vmName } = await twoHostsWithVm(a, admin, 'takeover');
    await a.services.coordinator.stop();
    const res = await a.request('POST', `/api/v1/vms/${vmId}/migrate`, {
      token: admin,
      body: { destination_host_id: destination.hostId },
    });
    expect(res.status, res.text).toBe(202);
    const id = res.body.migration_id as string;
    const prepare = await destination.agent.next('command');
    expect(prepare.action?.$case).toBe('migrationPrepare');
    expect(await lease(id)).toMatchObject({ coordinator: b.services.agents.replica, lease_epoch: '1' });
    expect(b.services.coordinator.driving).toEqual([id]);

    // B's process dies as far as coordinating goes: its lease stays until it runs out.
    await b.services.coordinator.stop({ release: false });
    const held = await lease(id);
    await destination.agent.commandUpdate({
      commandId: prepare.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
      detail: {
        $case: 'migrationPrepared',
        value: { connectUri: 'qemu+tcp://dst/system', migrateUri: '', createdImages: [] },
      },
    });
    a.services.coordinator.start();
    const perform = await source.agent.next('command', 10_000);
    expect(perform.action?.$case).toBe('migrationPerform');
    // Not before B's lease ran out.
    expect(Date.now()).toBeGreaterThanOrEqual(held?.lease_expires_at.getTime() ?? 0);
    expect(await lease(id)).toMatchObject({ coordinator: a.services.agents.replica, lease_epoch: '2' });

    // B, at its old epoch, cannot act: no step, no command, nothing written.
    const before = await a.sql`select * from migrations where id = ${id}`;
    expect(await b.services.coordinator.step(id, 1)).toBe('lost');
    expect(await a.sql`select * from migrations where id = ${id}`).toEqual(before);

    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_ACCEPTED,
    });
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
    await destination.agent.next('ack');
    await migrationUntil(a, admin, id, 'completed', (m) => m.status === 'completed');
    expect((await a.request('GET', `/api/v1/vms/${vmId}`, { token: admin })).body.host_id).toBe(
      destination.hostId,
    );
    const commands = await a.sql<{ kind: string }[]>`
      select kind from commands where operation_id = ${id} order by id`;
    expect(commands.map((c) => c.kind)).toEqual(['migrationPrepare', 'migrationPerform']);
    source.agent.close();
    destination.agent.close();
  }, 30_000);

  it('a migration whose replica died while the source copied is settled by the other from the source’s report', async () => {
    b.services.coordinator.start();
    await a.services.coordinator.stop();
    const { source, destination, vmId, vmName } = await twoHostsWithVm(a, admin, 'settle');
    const id = (
      await a.request('POST', `/api/v1/vms/${vmId}/migrate`, {
        token: admin,
        body: { destination_host_id: destination.hostId },
      })
    ).body.migration_id as string;
    await prepareOn(destination);
    const perform = await performStarts(source);
    await migrationUntil(
      a,
      admin,
      id,
      'migrating on B',
      (m) => m.status === 'migrating' && m.progress !== null,
    );
    expect((await lease(id))?.coordinator).toBe(b.services.agents.replica);
    await b.services.coordinator.stop({ release: false });
    // While nobody coordinates, the agents finish: the source succeeded, the destination has the VM.
    await source.agent.commandUpdate({
      commandId: perform.commandId,
      status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
    });
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, vmName) }]);
    await destination.agent.next('ack');
    await eventually(
      'the perform command recorded as succeeded',
      async () =>
        (await a.sql<{ status: string }[]>`select status from commands where id = ${perform.commandId}`)[0]
          ?.status,
      (s) => s === 'succeeded',
    );
    expect((await a.request('GET', `/api/v1/migrations/${id}`, { token: admin })).body.status).toBe(
      'migrating',
    );
    a.services.coordinator.start();
    await migrationUntil(a, admin, id, 'completed by A', (m) => m.status === 'completed', 10_000);
    expect(await lease(id)).toMatchObject({ coordinator: a.services.agents.replica, lease_epoch: '2' });
    expect((await a.request('GET', `/api/v1/vms/${vmId}`, { token: admin })).body.host_id).toBe(
      destination.hostId,
    );
    source.agent.close();
    destination.agent.close();
  }, 30_000);
});
