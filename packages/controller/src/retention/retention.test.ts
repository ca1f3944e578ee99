import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdInTransaction } from '../../test/support/held-lock.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import { insertAuditEntry } from '../audit/audit-queries.ts';
import { storeRefreshToken } from '../auth/refresh-tokens.ts';
import { recordChanges } from '../changes/change-queries.ts';
import { loadConfig } from '../config/config.ts';
import { createRetention } from './retention.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('retention of audit entries, dead refresh tokens and the change log (COCKPIT_RETENTION_DAYS)', () => {
  let t: TestApp;
  let adminId: string;
  beforeAll(async () => {
    t = await createTestApp({ env: { COCKPIT_RETENTION_DAYS: '30' } });
    // The prune the app starts with has finished (its timer stopped): the tests' own runs never race it
    // for the lock, which a busy machine made them do.
    await t.services.retention.stop();
    const [row] = await t.sql<{ id: string }[]>`select id from users where username = 'admin'`;
    adminId = row?.id ?? '';
  });
  afterAll(async () => {
    await t.close();
  });

  const audit = (requestId: string, at: Date) =>
    insertAuditEntry(t.sql, {
      at,
      requestId,
      actorId: null,
      actorUsername: 'retention-test',
      action: 'POST /api/v1/x',
      method: 'POST',
      path: '/api/v1/x',
      target: null,
      result: 'success',
      status: 200,
      clientAddress: '127.0.0.1',
    });
  const auditIds = async () =>
    (
      await t.sql<{ request_id: string }[]>`
        select request_id from audit_log where actor_username = 'retention-test' order by request_id`
    ).map((r) => r.request_id);
  const familyCount = async () => {
    const [row] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from refresh_token_families where user_id = ${adminId}`;
    return row?.n ?? 0;
  };

  it('reads the setting (default 90 days) and deletes only what is older', async () => {
    expect(t.config.retentionDays).toBe(30);
    const now = t.clock.now().getTime();
    await audit('old', new Date(now - 31 * DAY_MS));
    await audit('recent', new Date(now - 29 * DAY_MS));
    const familiesBefore = await familyCount();
    // A token that expired 40 days ago (dead long enough), and one that is still live.
    await storeRefreshToken(t.sql, {
      userId: adminId,
      now: new Date(now - 70 * DAY_MS),
      ttlSeconds: 30 * 86_400,
    });
    await storeRefreshToken(t.sql, { userId: adminId, now: new Date(now), ttlSeconds: 30 * 86_400 });
    expect(await familyCount()).toBe(familiesBefore + 2);

    const run = await t.services.retention.runOnce();
    expect(run.ran).toBe(true);
    expect(run.auditEntries).toBe(1);
    expect(await auditIds()).toEqual(['recent']);
    expect(await familyCount()).toBe(familiesBefore + 1);
  });

  it('prunes the change log by age too, and a cache tailing it reads on', async () => {
    const now = t.clock.now().getTime();
    const entity = randomUUID();
    await recordChanges(t.sql, new Date(now - 31 * DAY_MS), [
      { kind: 'operation', entityId: entity, op: 'upsert', data: { status: 'old' } },
    ]);
    await recordChanges(t.sql, new Date(now - 29 * DAY_MS), [
      { kind: 'operation', entityId: entity, op: 'upsert', data: { status: 'recent' } },
    ]);
    const run = await t.services.retention.runOnce();
    expect(run.changes).toBeGreaterThanOrEqual(1);
    const left = await t.sql<{ data: { status: string } }[]>`
      select data from changes where entity_id = ${entity} order by id`;
    expect(left.map((r) => r.data.status)).toEqual(['recent']);
    expect(await t.sql`select 1 from changes where at < ${new Date(now - 30 * DAY_MS)}`).toHaveLength(0);
    // The app's own VM cache still answers (its tail reads after its position).
    expect(
      (await t.request('GET', '/api/v1/vms', { token: (await t.userWithRole('viewer')).tokens.token }))
        .status,
    ).toBe(200);
  });

  it('prunes on one replica at a time: a second one skips while the first holds the lock', async () => {
    const now = t.clock.now().getTime();
    await audit('old-2', new Date(now - 40 * DAY_MS));
    const other = createRetention({ sql: t.sql, clock: t.clock, log: t.services.log, days: 30 });
    // Replica A: inside its transaction, with the lock, until released.
    const first = await holdInTransaction(t.sql, (tx) => tx`select pg_advisory_xact_lock(${0x7265}, 1)`);
    const skipped = await other.runOnce();
    expect(skipped).toEqual({ ran: false, auditEntries: 0, refreshTokens: 0, changes: 0 });
    expect(await auditIds()).toContain('old-2');
    await first.release();
    const ran = await other.runOnce();
    expect(ran.ran).toBe(true);
    expect(await auditIds()).toEqual(['recent']);
  });

  it('defaults to 90 days and refuses a nonsense setting with the variable named', () => {
    expect(loadConfig({ COCKPIT_DATA_DIR: '/tmp/x' }).retentionDays).toBe(90);
    expect(() => loadConfig({ COCKPIT_DATA_DIR: '/tmp/x', COCKPIT_RETENTION_DAYS: '0' })).toThrow(
      /COCKPIT_RETENTION_DAYS: must be at least 1/,
    );
  });
});
