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
