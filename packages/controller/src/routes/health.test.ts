import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import type { Services } from '../create-services.ts';
import { connect } from '../database/connect.ts';
import { createApp } from '../http/create-app.ts';

describe('/healthz and /readyz', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('are alive and ready on a migrated database, without a token', async () => {
    expect(await t.request('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await t.request('GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('is not ready while the schema is behind', async () => {
    const unmigrated: TestDatabase = await createTestDatabase({ migrate: false });
    try {
      const app = createApp({ ...t.services, sql: unmigrated.sql } satisfies Services);
      const res = await app.request('/readyz');
      expect(res.status).toBe(503);
      const body = (await res.json()) as {
        error: { code: string; details: { pendingMigrations: number[] } };
      };
      expect(body.error.code).toBe('service_unavailable');
      expect(body.error.details.pendingMigrations).toContain(1);
      expect((await app.request('/healthz')).status).toBe(200);
    } finally {
      await unmigrated.drop();
    }
  });

  it('cancels its probe query when it gives up, so the connection is free again', async () => {
    // The probe runs on a pool of one; another connection holds a lock its query must wait for.
    const probeSql = connect(t.db.url, { max: 1 });
    const locker = await t.sql.reserve();
    try {
      await locker`begin`;
      await locker`lock table schema_migrations in access exclusive mode`;
      const app = createApp({ ...t.services, sql: probeSql });
      const res = await app.request('/readyz');
      expect(res.status).toBe(503);
      // Nothing waits on the lock any more, although it is still held...
      await expect
        .poll(
          async () =>
            (
              await locker<{ n: number }[]>`
                select count(*)::int as n from pg_stat_activity
                where datname = current_database() and wait_event_type = 'Lock'`
            )[0]?.n,
          { timeout: 10_000, message: 'the probe query still waits on the lock' },
        )
        .toBe(0);
      // ...and the pool's only connection serves the next query.
      expect(await probeSql`select 1 as ok`).toEqual([{ ok: 1 }]);
    } finally {
      await locker`rollback`;
      locker.release();
      await probeSql.end();
    }
  });

  it('is not ready when the database does not answer', async () => {
    // Nothing listens on port 1: connections are refused at once.
    const dead = connect('postgres://postgres@127.0.0.1:1/none', { max: 1 });
    try {
      const app = createApp({ ...t.services, sql: dead });
      const res = await app.request('/readyz');
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('service_unavailable');
    } finally {
      await dead.end();
    }
  });
});
