import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken } from '../../test/support/agent-test-helpers.ts';
import { type ScriptedHost, twoHostsWithVm } from '../../test/support/migration-test-helpers.ts';
import { RealTimeClock } from '../../test/support/real-time-clock.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

describe('GET /api/v1/migrations/:id', () => {
  let t: TestApp;
  let viewer: string;
  let hosts: { source: ScriptedHost; destination: ScriptedHost; vmId: string; vmName: string };
  let id: string;

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    const admin = await adminToken(t);
    viewer = (await t.userWithRole('viewer')).tokens.token;
    hosts = await twoHostsWithVm(t, admin, 'get');
    const res = await t.request('POST', `/api/v1/vms/${hosts.vmId}/migrate`, {
      token: admin,
      body: {
        destination_host_id: hosts.destination.hostId,
        live: true,
        copy_storage: 'none',
        compression: true,
      },
    });
    id = res.body.migration_id;
  });
  afterAll(async () => {
    hosts?.source.agent.close();
    hosts?.destination.agent.close();
    await t?.close();
  });

  it('shows the migration: request, status, progress, timestamps, error (any letter case of the id)', async () => {
    const res = await t.request('GET', `/api/v1/migrations/${id.toUpperCase()}`, { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id,
      vm_id: hosts.vmId,
      vm_name: hosts.vmName,
      source_host_id: hosts.source.hostId,
      destination_host_id: hosts.destination.hostId,
      live: true,
      persistent: true,
      undefine_source: true,
      copy_storage: 'none',
      compression: true,
      auto_converge: false,
      bandwidth_mibps: 0,
      progress: null,
      error: null,
      cancel_requested_at: null,
      finished_at: null,
    });
    expect(['initiated', 'preparing']).toContain(res.body.status);
    expect(Date.parse(res.body.created_at)).not.toBeNaN();
  });

  it('answers 404 for an unknown id and 400 for one that is not a UUID', async () => {
    const missing = await t.request('GET', `/api/v1/migrations/${randomUUID()}`, { token: viewer });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const bad = await t.request('GET', '/api/v1/migrations/abc', { token: viewer });
    expect(bad.status).toBe(400);
  });
});
