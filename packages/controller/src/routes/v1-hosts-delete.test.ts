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
