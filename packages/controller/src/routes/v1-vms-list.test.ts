import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

const HOST_A = '019e0014-abcd-7057-b326-000000000001';
const HOST_B = '019e0014-ffff-7057-b326-000000000002';
const VM_1 = '6f1b1a0e-2c4d-4e8f-9a1b-000000000001';
const VM_2 = '6f1b1a0e-2c4d-4e8f-9a1b-000000000002';

describe('GET /api/v1/vms', () => {
  let t: TestApp;
  let viewer: string;
  beforeAll(async () => {
    t = await createTestApp();
    viewer = (await t.userWithRole('viewer')).tokens.token;
    await t.sql`INSERT INTO hosts (id, hostname, status) VALUES (${HOST_A}, 'node-a', 'connected'),
                                                                (${HOST_B}, 'node-b', 'connected')`;
    await t.sql`INSERT INTO vms (id, host_id, name, state, vcpus, memory_mib, updated_at)
      VALUES (${VM_1}, ${HOST_A}, 'web-1', 'running', 2, 2048, '2026-01-01T00:00:00Z'),
             (${VM_2}, ${HOST_B}, 'db-1', 'shutoff', 4, 8192, '2026-01-01T00:00:02Z')`;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lists every VM by name, its id being the libvirt domain UUID', async () => {
    const res = await t.request('GET', '/api/v1/vms', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      vms: [
        {
          id: VM_2,
          host_id: HOST_B,
          name: 'db-1',
          state: 'shutoff',
          vcpus: 4,
          memory_mib: 8192,
          updated_at: '2026-01-01T00:00:02.000Z',
        },
        {
          id: VM_1,
          host_id: HOST_A,
          name: 'web-1',
          state: 'running',
          vcpus: 2,
          memory_mib: 2048,
          updated_at: '2026-01-01T00:00:00.000Z',
        },
      ],
    });
  });

  it('filters by host and by state', async () => {
    const byHost = await t.request('GET', `/api/v1/vms?host_id=${HOST_A}`, { token: viewer });
    expect(byHost.body.vms.map((v: { id: string }) => v.id)).toEqual([VM_1]);
    const byState = await t.request('GET', '/api/v1/vms?state=shutoff', { token: viewer });
    expect(byState.body.vms.map((v: { id: string }) => v.id)).toEqual([VM_2]);
    const none = await t.request('GET', `/api/v1/vms?host_id=${HOST_A}&state=shutoff`, { token: viewer });
    expect(none.body).toEqual({ vms: [] });
  });

  it('names bad filters in a 400', async () => {
    const res = await t.request('GET', '/api/v1/vms?host_id=nope&state=flying', { token: viewer });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'query.host_id',
      'query.state',
    ]);
  });

  it('checks the token before the query', async () => {
    const res = await t.request('GET', '/api/v1/vms?host_id=nope');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
});
