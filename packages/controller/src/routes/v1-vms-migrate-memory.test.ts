import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually } from '../../test/support/agent-test-helpers.ts';
import {
  migrationUntil,
  type ScriptedHost,
  twoHostsWithVm,
} from '../../test/support/migration-test-helpers.ts';
import { RealTimeClock } from '../../test/support/real-time-clock.ts';
import { HOST_INFO, vm } from '../../test/support/scripted-agent.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import { QEMU_OVERHEAD_MIB } from '../placement/memory-room.ts';

const MIB = 2 ** 20;

// A migration is refused before anything moves when its destination has no room for the VM's memory:
// the destination's latest memory sample (sent by its agent over gRPC, stored in PostgreSQL), less the
// VMs already on their way there. The scripted hosts have HOST_INFO's 16 GiB.
describe('POST /api/v1/vms/:id/migrate: the destination’s memory', () => {
  let t: TestApp;
  let admin: string;
  let source: ScriptedHost;
  let destination: ScriptedHost;

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    admin = await adminToken(t);
    ({ source, destination } = await twoHostsWithVm(t, admin, 'memory'));
  });
  afterAll(async () => {
    for (const a of [source?.agent, destination?.agent]) a?.close();
    await t?.close();
  });

  /** A running VM of `memoryMib` on the source. */
  const vmOf = async (memoryMib: number) => {
    const id = randomUUID();
    await source.agent.batch([
      { $case: 'vmUpdated', value: vm(id, `vm-${memoryMib}-${id.slice(0, 8)}`, undefined, { memoryMib }) },
    ]);
    await source.agent.next('ack');
    return id;
  };
  const migrate = (id: string) =>
    t.request('POST', `/api/v1/vms/${id}/migrate`, {
      token: admin,
      body: { destination_host_id: destination.hostId },
    });
  /** The destination's agent reports `availableMib` free, as its sampler does every period. */
  const sample = async (availableMib: number, ageMs = 0) => {
    const atMs = Date.now() - ageMs;
    await destination.agent.metrics({
      hosts: [
        {
          atMs,
          cpuPercent: 5,
          memoryTotalBytes: HOST_INFO.memoryMib * MIB,
          memoryUsedBytes: (HOST_INFO.memoryMib - availableMib) * MIB,
          memoryAvailableBytes: availableMib * MIB,
          intervalMs: 10_000,
          presentFields: 0b111100,
        },
      ],
    });
    await eventually(
      'the sample stored',
      async () => {
        await t.services.metricIngest.flush();
        return t.sql`select 1 from metric_host_raw where host_id = ${destination.hostId} and at = ${new Date(atMs)}`;
      },
      (rows) => rows.length === 1,
    );
  };
  const cancel = async (migrationId: string) => {
    const res = await t.request('POST', `/api/v1/migrations/${migrationId}/cancel`, { token: admin });
    expect(res.status, res.text).toBe(202);
    await migrationUntil(t, admin, migrationId, 'cancelled', (m) => m.status === 'cancelled');
  };
  const expectRefused = (res: Awaited<ReturnType<typeof migrate>>, ...phrases: string[]) => {
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.code).toBe('insufficient_memory');
    for (const phrase of phrases) expect(res.body.error.message).toContain(phrase);
    expect(res.body.error.details).toEqual([
      { path: 'body.destination_host_id', message: 'this host has too little memory for the VM' },
    ]);
  };

  it('without a recent sample, refuses a VM larger than the destination’s whole memory', async () => {
    const huge = await vmOf(HOST_INFO.memoryMib);
    expectRefused(await migrate(huge), '16,384 MiB of memory in all', 'the VM has 16,384 MiB');
    expect((await t.sql`select 1 from migrations where vm_id = ${huge}`).length).toBe(0);
    // A sample older than three sampling periods says nothing of now: only the total counts.
    await sample(0, 60_000);
    const small = await vmOf(1024);
    const accepted = await migrate(small);
    expect(accepted.status, accepted.text).toBe(202);
    await cancel(accepted.body.migration_id);
  });

  it('checks the latest sample, less what unfinished migrations to the host will take', async () => {
    await sample(2048);
    const tooBig = await vmOf(2048 - QEMU_OVERHEAD_MIB + 1);
    expectRefused(
      await migrate(tooBig),
      '2,048 MiB of memory available (sampled',
      'pick another destination',
    );
    const first = await migrate(await vmOf(1536));
    expect(first.status, first.text).toBe(202);
    const second = await vmOf(512);
    expectRefused(await migrate(second), 'of it promised to 1 migration on the way there');
    // Once the first one ended, its memory is no longer promised.
    await cancel(first.body.migration_id);
    const again = await migrate(second);
    expect(again.status, again.text).toBe(202);
    await cancel(again.body.migration_id);
  });

  it('takes exactly one of concurrent migrations that fit one at a time, not together', async () => {
    await sample(2048);
    const vms: string[] = [];
    for (let i = 0; i < 6; i++) vms.push(await vmOf(1024));
    const results = await Promise.all(vms.map(migrate));
    const accepted = results.filter((r) => r.status === 202);
    expect(accepted).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 202)) expectRefused(r, 'promised to 1 migration');
    await cancel(accepted[0]?.body.migration_id);
  });
});
