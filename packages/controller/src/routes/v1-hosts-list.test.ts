import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import { ManualClock } from '../clock.ts';

// What an agent fills in once it connects: unset for hosts written straight into the table.
const NO_AGENT_YET = {
  driver: null,
  agent_version: null,
  hypervisor: null,
  libvirt_version: null,
  cpu_model: null,
  host_uuid: null,
  migration_uri: null,
  connected_at: null,
  disconnected_at: null,
};

describe('GET /api/v1/hosts', () => {
  let t: TestApp;
  let viewer: string;
  beforeAll(async () => {
    // The clock a second after the connected host's last-seen time below: the deadline sweep (every
    // second, on this clock) keeps a host it sees as fresh connected while the test reads it.
    t = await createTestApp({ clock: new ManualClock(Date.parse('2026-01-01T00:00:06Z')) });
    viewer = (await t.userWithRole('viewer')).tokens.token;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers an empty list before any agent joined', async () => {
    const res = await t.request('GET', '/api/v1/hosts', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ hosts: [] });
  });

  it("lists hosts in the seed's shape, sync_cursor as a JSON number", async () => {
    await t.sql`INSERT INTO hosts (id, hostname, status, sync_cursor, cpus, memory_mib, last_seen_at, created_at)
      VALUES ('019e0014-abcd-7057-b326-000000000001', 'vapor-node-01.corp.awan.io', 'connected', 1716999901,
              32, 262144, '2026-01-01T00:00:05Z', '2026-01-01T00:00:00Z'),
             ('019e0014-ffff-7057-b326-000000000002', 'vapor-node-00.corp.awan.io', 'pending', 0,
              NULL, NULL, NULL, '2026-01-01T00:00:01Z')`;
    const res = await t.request('GET', '/api/v1/hosts', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      hosts: [
        {
          id: '019e0014-ffff-7057-b326-000000000002',
          hostname: 'vapor-node-00.corp.awan.io',
          status: 'pending',
          sync_cursor: 0,
          cpus: null,
          memory_mib: null,
          last_seen_at: null,
          created_at: '2026-01-01T00:00:01.000Z',
          ...NO_AGENT_YET,
        },
        {
          id: '019e0014-abcd-7057-b326-000000000001',
          hostname: 'vapor-node-01.corp.awan.io',
          status: 'connected',
          sync_cursor: 1716999901,
          cpus: 32,
          memory_mib: 262144,
          last_seen_at: '2026-01-01T00:00:05.000Z',
          created_at: '2026-01-01T00:00:00.000Z',
          ...NO_AGENT_YET,
        },
      ],
    });
    // Exactly the seed's text for the cursor: a number, not a string.
    expect(res.text).toContain('"sync_cursor":1716999901');
  });

  it('is readable by every role', async () => {
    for (const role of ['operator', 'admin'] as const) {
      const { tokens } = await t.userWithRole(role);
      expect((await t.request('GET', '/api/v1/hosts', { token: tokens.token })).status).toBe(200);
    }
  });

  it('needs a valid bearer token', async () => {
    const none = await t.request('GET', '/api/v1/hosts');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);

    const forged = await t.request('GET', '/api/v1/hosts', { token: `${viewer.slice(0, -4)}AAAA` });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer/);

    const basic = await t.request('GET', '/api/v1/hosts', {
      headers: { authorization: 'Basic YWRtaW46eA==' },
    });
    expect(basic.status).toBe(401);
  });

  it('refuses an expired token', async () => {
    const { tokens } = await t.userWithRole('viewer');
    t.clock.advance((tokens.expires_in + 60) * 1000);
    const res = await t.request('GET', '/api/v1/hosts', { token: tokens.token });
    expect(res.status).toBe(401);
  });
});
