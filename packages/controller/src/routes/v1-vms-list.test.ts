import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import { ManualClock } from '../clock.ts';

const HOST_A = '019e0014-abcd-7057-b326-000000000001';
const HOST_B = '019e0014-ffff-7057-b326-000000000002';
// Of no RFC 9562 version or variant: libvirt takes any 128 bits as a domain's UUID (set in its XML), so
// the API does too, here in a page's cursor.
const VM_1 = '6f1b1a0e-2c4d-0e8f-1a1b-000000000001';
const VM_2 = '6f1b1a0e-2c4d-4e8f-9a1b-000000000002';

describe('GET /api/v1/vms', () => {
  let t: TestApp;
  let viewer: string;

  beforeAll(async () => {
    // The clock a second after host A's last-seen time: the deadline sweep (every second, on this
    // clock) keeps a host it sees as fresh connected, so its VMs stay not stale through the file.
    t = await createTestApp({ clock: new ManualClock(Date.parse('2026-01-01T00:00:10Z')) });
    viewer = (await t.userWithRole('viewer')).tokens.token;
    await t.sql`INSERT INTO hosts (id, hostname, status, last_seen_at) VALUES
      (${HOST_A}, 'node-a', 'connected', '2026-01-01T00:00:09Z'),
      (${HOST_B}, 'node-b', 'disconnected', '2026-01-01T00:00:01Z')`;
    await t.sql`INSERT INTO vms (id, host_id, name, state, state_reason, vcpus, memory_mib, max_memory_mib,
                                 persistent, autostart, confirmed_at, updated_at)
      VALUES (${VM_1}, ${HOST_A}, 'web-1', 'running', 'booted', 2, 2048, 4096, true, true,
              '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
             (${VM_2}, ${HOST_B}, 'db-1', 'shut_off', 'shutdown', 4, 8192, null, true, false,
              '2026-01-01T00:00:02Z', '2026-01-01T00:00:02Z')`;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('lists every VM by name, its id being the libvirt domain UUID; a disconnected host’s VMs are stale', async () => {
    const res = await t.request('GET', '/api/v1/vms', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      vms: [
        {
          id: VM_2,
          host_id: HOST_B,
          name: 'db-1',
          state: 'shut_off',
          state_reason: 'shutdown',
          vcpus: 4,
          memory_mib: 8192,
          max_memory_mib: null,
          persistent: true,
          autostart: false,
          stale: true,
          // The later of its own confirmation and the host's last sign of life.
          confirmed_at: '2026-01-01T00:00:02.000Z',
          conflict: null,
          updated_at: '2026-01-01T00:00:02.000Z',
        },
        {
          id: VM_1,
          host_id: HOST_A,
          name: 'web-1',
          state: 'running',
          state_reason: 'booted',
          vcpus: 2,
          memory_mib: 2048,
          max_memory_mib: 4096,
          persistent: true,
          autostart: true,
          stale: false,
          confirmed_at: '2026-01-01T00:00:09.000Z',
          conflict: null,
          updated_at: '2026-01-01T00:00:00.000Z',
        },
      ],
      next_cursor: null,
    });
  });

  it('filters by host (any letter case), by state and by name', async () => {
    const byHost = await t.request('GET', `/api/v1/vms?host_id=${HOST_A.toUpperCase()}`, { token: viewer });
    expect(byHost.body.vms.map((v: { id: string }) => v.id)).toEqual([VM_1]);
    const byState = await t.request('GET', '/api/v1/vms?state=shut_off', { token: viewer });
    expect(byState.body.vms.map((v: { id: string }) => v.id)).toEqual([VM_2]);
    const byName = await t.request('GET', '/api/v1/vms?name=web-1', { token: viewer });
    expect(byName.body.vms.map((v: { id: string }) => v.id)).toEqual([VM_1]);
    const none = await t.request('GET', `/api/v1/vms?host_id=${HOST_A}&state=shut_off`, { token: viewer });
    expect(none.body).toEqual({ vms: [], next_cursor: null });
  });

  it('pages in a stable order with an opaque cursor', async () => {
    const first = await t.request('GET', '/api/v1/vms?limit=1', { token: viewer });
    expect(first.body.vms.map((v: { id: string }) => v.id)).toEqual([VM_2]);
    expect(typeof first.body.next_cursor).toBe('string');
    const second = await t.request('GET', `/api/v1/vms?limit=1&cursor=${first.body.next_cursor}`, {
      token: viewer,
    });
    expect(second.body.vms.map((v: { id: string }) => v.id)).toEqual([VM_1]);
    const third = await t.request('GET', `/api/v1/vms?limit=1&cursor=${second.body.next_cursor}`, {
      token: viewer,
    });
    expect(third.body).toEqual({ vms: [], next_cursor: null });
  });

  it('names bad filters in a 400', async () => {
    const res = await t.request('GET', '/api/v1/vms?host_id=nope&state=flying&limit=0&cursor=zzz', {
      token: viewer,
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'query.cursor',
      'query.host_id',
      'query.limit',
      'query.state',
    ]);
  });

  it('checks the token before the query', async () => {
    const res = await t.request('GET', '/api/v1/vms?host_id=nope');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
});
