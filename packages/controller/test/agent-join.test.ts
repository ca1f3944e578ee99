import { GoodbyeReason } from '@cockpit/proto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually, joinedHost, joinToken, targetOf } from './support/agent-test-helpers.ts';
import { RealTimeClock } from './support/real-time-clock.ts';
import { join, ScriptedAgent } from './support/scripted-agent.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

// Joining and credentials over real gRPC with TLS (the controller's own CA, trusted by the scripted
// agent like a pinned one): a wrong, expired, reused or revoked token or credential never registers
// or feeds a host.
describe('agents joining and authenticating', () => {
  let t: TestApp;
  let admin: string;
  const hostCount = async () => (await t.sql<{ n: number }[]>`select count(*)::int as n from hosts`)[0]?.n;

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    admin = await adminToken(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a join token with the CA fingerprint (openssl’s form) and a ready cockpit-agent line', async () => {
    const res = await t.request('POST', '/api/v1/hosts/join-tokens', {
      token: admin,
      body: { ttl_seconds: 600 },
    });
    expect(res.status).toBe(201);
    expect(res.body.ca_sha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(res.body.ca_sha256).toBe(t.grpc.caFingerprint);
    expect(res.body.controller_address).toBe(t.grpc.address);
    expect(res.body.agent_command).toBe(
      `cockpit-agent --controller ${t.grpc.address} --ca-sha256 ${res.body.ca_sha256} --join-token ${res.body.token}`,
    );
    const ttl = Date.parse(res.body.expires_at) - t.clock.now().getTime();
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  it('refuses a TTL over one hour, and non-admins', async () => {
    const long = await t.request('POST', '/api/v1/hosts/join-tokens', {
      token: admin,
      body: { ttl_seconds: 3601 },
    });
    expect(long.status).toBe(400);
    expect(long.body.error.details[0].path).toBe('body.ttl_seconds');
    const operator = (await t.userWithRole('operator')).tokens.token;
    expect((await t.request('POST', '/api/v1/hosts/join-tokens', { token: operator, body: {} })).status).toBe(
      403,
    );
    expect((await t.request('POST', '/api/v1/hosts/join-tokens', { body: {} })).status).toBe(401);
  });

  it('joins once per token: a wrong, reused or expired token registers nothing', async () => {
    const before = await hostCount();
    const wrong = await join(targetOf(t), 'cjt_not-a-token', 'wrong').catch((e: { code: number }) => e);
    expect(wrong).toMatchObject({ code: status.PERMISSION_DENIED });

    const token = await joinToken(t, admin);
    const joined = await join(targetOf(t), token, 'node-once');
    expect(joined.hostId).toMatch(/^[0-9a-f-]{36}$/);
    expect(joined.credential.startsWith(`${joined.hostId}.`)).toBe(true);
    const reused = await join(targetOf(t), token, 'node-twice').catch((e: { code: number }) => e);
    expect(reused).toMatchObject({ code: status.PERMISSION_DENIED });

    const expiring = await joinToken(t, admin, 60);
    t.clock.advance(61_000);
    const expired = await join(targetOf(t), expiring, 'node-late').catch((e: { code: number }) => e);
    expect(expired).toMatchObject({ code: status.PERMISSION_DENIED });
    expect(await hostCount()).toBe((before ?? 0) + 1);
    const stored = await t.sql`select credential_hash from hosts where id = ${joined.hostId}`;
    expect(stored[0]?.credential_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(joined.credential.split('.')[1]);
  });

  it('lets exactly one of many concurrent redemptions of one token register a host', async () => {
    const before = (await hostCount()) ?? 0;
    const token = await joinToken(t, admin);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => join(targetOf(t), token, `racer-${i}`)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await hostCount()).toBe(before + 1);
  });

  it('refuses a hostname already registered (the token is spent)', async () => {
    await joinedHost(t, admin, 'node-dup');
    const token = await joinToken(t, admin);
    const dup = await join(targetOf(t), token, 'node-dup').catch((e: { code: number }) => e);
    expect(dup).toMatchObject({ code: status.ALREADY_EXISTS });
    const again = await join(targetOf(t), token, 'node-dup-2').catch((e: { code: number }) => e);
    expect(again).toMatchObject({ code: status.PERMISSION_DENIED });
  });

  it('refuses a stream with a missing, malformed or wrong credential', async () => {
    const { hostId } = await joinedHost(t, admin, 'node-auth');
    for (const credential of ['', 'garbage', `${hostId}.${'A'.repeat(43)}`]) {
      const agent = new ScriptedAgent(targetOf(t), credential);
      await agent.heartbeat().catch(() => undefined);
      const end = await agent.ended;
      expect(end.code, credential).toBe(status.UNAUTHENTICATED);
    }
    const host = await t.request('GET', `/api/v1/hosts/${hostId}`, { token: admin });
    expect(host.body.status).toBe('pending');
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
