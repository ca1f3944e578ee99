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

  it('answers UNAVAILABLE when the database fails under a Join (the agent tries again); the token still joins', async () => {
    const token = await joinToken(t, admin);
    const before = await hostCount();
    // Another session holds the join tokens; the Join waits for them, and its backend is terminated
    // there, as a database restart would.
    const holder = await t.sql.reserve();
    try {
      await holder`begin`;
      await holder`lock table join_tokens in access exclusive mode`;
      const joining = join(targetOf(t), token, 'node-db-gone').catch((e: { code: number }) => e);
      const waiting = await eventually(
        'the Join waiting for the lock',
        async () =>
          t.sql<{ pid: number }[]>`
            select pid from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        (rows) => rows.length > 0,
      );
      await t.sql`select pg_terminate_backend(${waiting[0]?.pid ?? 0})`;
      expect(await joining).toMatchObject({ code: status.UNAVAILABLE });
    } finally {
      await holder`rollback`;
      holder.release();
    }
    expect(await hostCount()).toBe(before);
    const joined = await join(targetOf(t), token, 'node-db-gone');
    expect(joined.hostId).toMatch(/^[0-9a-f-]{36}$/);
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
});
