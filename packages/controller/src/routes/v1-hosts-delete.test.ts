import { randomUUID } from 'node:crypto';
import { GoodbyeReason } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually, joinedHost, targetOf } from '../../test/support/agent-test-helpers.ts';
import { RealTimeClock } from '../../test/support/real-time-clock.ts';
import { ScriptedAgent } from '../../test/support/scripted-agent.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

describe('DELETE /api/v1/hosts/:id', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    admin = await adminToken(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('DELETE /api/v1/hosts/:id cuts a live stream within a second, and the credential is then revoked', async () => {
    const { hostId, credential } = await joinedHost(t, admin, 'node-doomed');
    const { agent } = await ScriptedAgent.connect(targetOf(t), credential);
    const started = Date.now();
    const res = await t.request('DELETE', `/api/v1/hosts/${hostId.toUpperCase()}`, { token: admin });
    expect(res.status).toBe(204);
    const end = await agent.ended;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(end.goodbye?.reason).toBe(GoodbyeReason.GOODBYE_REASON_REVOKED);
    expect((await t.request('GET', `/api/v1/hosts/${hostId}`, { token: admin })).status).toBe(404);

    // A later stream with the revoked credential is told so (the agent stops), and feeds nothing.
    const late = new ScriptedAgent(targetOf(t), credential);
    await late.heartbeat().catch(() => undefined);
    const lateEnd = await late.ended;
    expect(lateEnd.goodbye?.reason).toBe(GoodbyeReason.GOODBYE_REASON_REVOKED);
    expect(await t.sql`select 1 from hosts where id = ${hostId}`).toHaveLength(0);

    const audit = await t.request('GET', '/api/v1/audit?limit=5', { token: admin });
    expect(audit.body.entries[0]).toMatchObject({
      action: 'DELETE /api/v1/hosts/:id',
      target: `host:${hostId}`,
    });
  });

  it('DELETE while an agent’s report about one of the host’s VMs holds the host: waits for it, then 204 (no deadlock)', async () => {
    const { hostId } = await joinedHost(t, admin, 'node-busy');
    const vmId = randomUUID();
    await t.sql`insert into vms (id, host_id, name, state, vcpus, memory_mib)
                values (${vmId}, ${hostId}, 'busy-vm', 'running', 1, 64)`;
    // An ingest transaction, as sync ingest runs one: the host's row first, later its VMs' rows. Its
    // deadlock check is put off, so if the two deadlock the delete is the one PostgreSQL aborts.
    const ingest = await t.sql.reserve();
    try {
      await ingest`begin`;
      await ingest`set local deadlock_timeout = '10s'`;
      await ingest`select 1 from hosts where id = ${hostId} for no key update`;
      const deleting = t.request('DELETE', `/api/v1/hosts/${hostId}`, { token: admin });
      await eventually(
        'the delete waiting for a lock',
        async () =>
          t.sql<{ pid: number }[]>`
            select pid from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`,
        (rows) => rows.length > 0,
      );
      await ingest`select 1 from vms where id = ${vmId} for update`;
      await ingest`commit`;
      const res = await deleting;
      expect(res.status, res.text).toBe(204);
    } finally {
      ingest.release();
    }
    expect(await t.sql`select 1 from vms where id = ${vmId}`).toHaveLength(0);
  });

  it('DELETE answers 404 for an unknown host, 400 for a bad id, 403 below admin', async () => {
    const unknown = await t.request('DELETE', '/api/v1/hosts/019e0014-0000-7000-8000-000000000000', {
      token: admin,
    });
    expect(unknown.status).toBe(404);
    expect(
      (await t.request('DELETE', '/api/v1/hosts/nope', { token: admin })).body.error.details[0].path,
    ).toBe('path.id');
    const operator = (await t.userWithRole('operator')).tokens.token;
    const { hostId } = await joinedHost(t, admin, 'node-kept');
    expect((await t.request('DELETE', `/api/v1/hosts/${hostId}`, { token: operator })).status).toBe(403);
    await eventually(
      'the host is still there',
      async () => (await t.request('GET', `/api/v1/hosts/${hostId}`, { token: operator })).status,
      (s) => s === 200,
    );
  });
});
