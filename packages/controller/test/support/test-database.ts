import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { connect } from '../../src/database/connect.ts';
import { startEmbeddedDatabase } from '../../src/database/embedded-database.ts';
import { migrate } from '../../src/database/migrate.ts';
import type { Sql } from '../../src/database/sql.ts';

export interface TestDatabase {
  url: string;
  /** A client on the database, for seeding and asserting; closed by `drop`. */
  sql: Sql;
  /** The pool size clients of this database must keep to (1 for the embedded PGlite). */
  max: number;
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Apply the controller's migrations (default true). */
  migrate?: boolean;
}

const PREFIX = 'cockpit_test_';
// Databases left by a run that was killed are dropped by a later run once they are this old.
const STALE_MS = 60 * 60 * 1000;

function serverUrl(): string {
  const server = inject('testDatabaseServer');
  if ('unavailable' in server) throw new Error(`no PostgreSQL for the tests: ${server.unavailable}`);
  return server.url;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * A fresh, uniquely named database on the test server, for one test file: files running in parallel
 * never see each other's rows. Dropped (with its connections) by `drop()`.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const base = serverUrl();
  const name = `${PREFIX}${Date.now()}_${randomBytes(4).toString('hex')}`;
  const admin = connect(base, { max: 1 });
  try {
    await dropStale(admin);
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(base, name);
  const sql = connect(url, { max: 4 });
  if (options.migrate ?? true) await migrate(sql);
  return {
    url,
    sql,
    max: 10,
    drop: async () => {
      // With a timeout, as the controller ends its pool: postgres.js never settles end() once a
      // connection died under a query (porsager/postgres#1097); DROP … WITH (FORCE) ends what is left.
      await sql.end({ timeout: 5 });
      const dropper = connect(base, { max: 1 });
      try {
        await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

async function dropStale(admin: Sql): Promise<void> {
  const rows = await admin<{ datname: string }[]>`
    SELECT datname FROM pg_database WHERE datname LIKE ${`${PREFIX}%`}`;
  for (const { datname } of rows) {
    const created = Number(datname.slice(PREFIX.length).split('_')[0]);
    if (/^[a-z0-9_]+$/.test(datname) && created > 0 && Date.now() - created > STALE_MS) {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => undefined);
    }
  }
}

/**
 * The embedded default (PGlite behind pglite-socket) in a temporary data folder, for the suites that
 * must also pass against it. Its one connection is shared: the returned `sql` is the only client
 * tests should use (pass it to the app rather than opening another).
 */
export async function createEmbeddedTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cockpit-embedded-test-'));
  const embedded = await startEmbeddedDatabase(dataDir);
  const sql = connect(embedded.url, { max: 1 });
  if (options.migrate ?? true) await migrate(sql);
  return {
    url: embedded.url,
    sql,
    max: 1,
    drop: async () => {
      await sql.end();
      await embedded.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
