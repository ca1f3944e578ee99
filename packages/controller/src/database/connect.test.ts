import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { connect } from './connect.ts';

describe('connect', () => {
  let server: TestDatabase;
  beforeAll(async () => {
    server = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await server?.drop();
  });

  // The embedded PGlite accepts the setting without enforcing it: embedded-database.test.ts connects with it.
  it('gives every connection of the pool the statement timeout: a PostgreSQL server cancels a longer statement', async () => {
    const sql = connect(server.url, { max: 2, statementTimeoutMs: 200 });
    try {
      const [setting] = await sql<{ statement_timeout: string }[]>`show statement_timeout`;
      expect(setting?.statement_timeout).toBe('200ms');
      const err = await sql`select pg_sleep(5)`.catch((e: unknown) => e);
      // 57014 query_canceled: "canceling statement due to statement timeout".
      expect((err as { code?: string }).code).toBe('57014');
      // The connection is free again at once.
      expect(await sql`select 1 as ok`).toEqual([{ ok: 1 }]);
    } finally {
      await sql.end();
    }
  });

  it('has a default of 15 s', async () => {
    const sql = connect(server.url, { max: 1 });
    try {
      const [setting] = await sql<{ statement_timeout: string }[]>`show statement_timeout`;
      expect(setting?.statement_timeout).toBe('15s');
    } finally {
      await sql.end();
    }
  });
});
