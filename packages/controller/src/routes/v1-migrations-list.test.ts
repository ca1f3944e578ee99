import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken } from '../../test/support/agent-test-helpers.ts';
import {
  migrationUntil,
  type ScriptedHost,
  twoHostsWithVm,
} from '../../test/support/migration-test-helpers.ts';
import { RealTimeClock } from '../../test/support/real-time-clock.ts';
import { vm } from '../../test/support/scripted-agent.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import type { MigrationView } from '../migrations/migration-schema.ts';

describe('GET /api/v1/migrations', () => {
  let t: TestApp;
  let viewer: string;
  let source: ScriptedHost;
  let destination: ScriptedHost;
  const ids: string[] = [];
  const vmIds: string[] = [];

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    const admin = await adminToken(t);
    const operator = (await t.userWithRole('operator')).tokens.token;
    viewer = (await t.userWithRole('viewer')).tokens.token;
    let first: string;
    ({ source, destination, vmId: first } = await twoHostsWithVm(t, admin, 'list'));
    vmIds.push(first, randomUUID(), randomUUID());
    await source.agent.batch(
      vmIds.slice(1).map((id, i) => ({ $case: 'vmUpdated', value: vm(id, `list-${i}`) })),
    );
    await source.agent.next('ack');
    for (const vmId of vmIds) {
      const res = await t.request('POST', `/api/v1/vms/${vmId}/migrate`, {
        token: operator,
        body: { destination_host_id: destination.hostId },
      });
      expect(res.status, res.text).toBe(202);
      ids.push(res.body.migration_id);
    }
    // The first one is cancelled (before its destination answers).
    await t.request('POST', `/api/v1/migrations/${ids[0]}/cancel`, { token: operator });
    await migrationUntil(t, viewer, ids[0] ?? '', 'cancelled', (m) => m.status === 'cancelled');
  });
  afterAll(async () => {
    source?.agent.close();
    destination?.agent.close();
    await t?.close();
  });

  const list = async (query: string) => {
    const res = await t.request<{ migrations: MigrationView[]; next_before: string | null }>(
      'GET',
      `/api/v1/migrations${query}`,
      { token: viewer },
    );
    expect(res.status, res.text).toBe(200);
    return res.body;
  };

  it('lists newest first, and pages with next_before', async () => {
    const all = await list('');
    expect(all.migrations.map((m) => m.id)).toEqual([...ids].reverse());
    expect(all.next_before).toBeNull();
    const first = await list('?limit=2');
    expect(first.migrations.map((m) => m.id)).toEqual([ids[2], ids[1]]);
    const second = await list(`?limit=2&before=${first.next_before}`);
    expect(second.migrations.map((m) => m.id)).toEqual([ids[0]]);
    expect(second.next_before).toBeNull();
  });

  it('filters by VM, by host (source or destination, any letter case) and by status', async () => {
    expect((await list(`?vm_id=${vmIds[1]?.toUpperCase()}`)).migrations.map((m) => m.id)).toEqual([ids[1]]);
    expect((await list(`?host_id=${source.hostId.toUpperCase()}`)).migrations).toHaveLength(3);
    expect((await list(`?host_id=${destination.hostId}`)).migrations).toHaveLength(3);
    expect((await list(`?host_id=${randomUUID()}`)).migrations).toEqual([]);
    expect((await list('?status=cancelled')).migrations.map((m) => m.id)).toEqual([ids[0]]);
    expect((await list('?status=completed')).migrations).toEqual([]);
  });

  it('refuses a bad filter with 400', async () => {
    const res = await t.request('GET', '/api/v1/migrations?status=done', { token: viewer });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });
});
