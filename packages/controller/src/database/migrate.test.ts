import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/temp-dir.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { connect } from './connect.ts';
import { bundledMigrations, isMigrationError, loadMigrations, migrate, schemaStatus } from './migrate.ts';

describe('migrate', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('reports a fresh database as not current', async () => {
    const all = (await bundledMigrations()).map((m) => m.version);
    expect(all[0]).toBe(1);
    expect(await schemaStatus(db.sql)).toEqual({ current: false, pending: all });
  });

  it('applies every migration once and records it; a second run applies nothing', async () => {
    const all = (await bundledMigrations()).map((m) => m.version);
    expect(await migrate(db.sql)).toEqual({ applied: all });
    expect(await migrate(db.sql)).toEqual({ applied: [] });
    const rows = await db.sql<{ version: number }[]>`SELECT version FROM schema_migrations ORDER BY version`;
    expect(rows.map((r) => r.version)).toEqual(all);
    expect(await schemaStatus(db.sql)).toEqual({ current: true, pending: [] });
    const [tables] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('hosts', 'vms')`;
    expect(tables?.n).toBe(2);
  });

  it('migrates once when several replicas start together', async () => {
    const fresh = await createTestDatabase({ migrate: false });
    const clients = [0, 1, 2, 3].map(() => connect(fresh.url, { max: 2 }));
    try {
      // A lock never released would hang here: fail in seconds, saying so, not at the test timeout.
      const results = await withinMs(
        Promise.all(clients.map((c) => migrate(c))),
        20_000,
        'all four replicas to finish migrating (one waiting on the migration lock for good?)',
      );
      const all = (await bundledMigrations()).map((m) => m.version);
      // Exactly one replica applied everything; the others found nothing left to do.
      expect(results.filter((r) => r.applied.length > 0)).toEqual([{ applied: all }]);
      const [count] = await fresh.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM schema_migrations`;
      expect(count?.n).toBe(all.length);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      await fresh.drop();
    }
  });

  it('still accepts a database migrated before 0001_core.sql was reformatted', async () => {
    const earlier = await createTestDatabase();
    try {
      // What every database migrated by the earlier release recorded for version 1.
      await earlier.sql`
        update schema_migrations
        set checksum = '2a742a26be876925c4f69fa8a7dd424c1c4203c94f1a63fea54a97bc60e0260a'
        where version = 1`;
      expect(await migrate(earlier.sql)).toEqual({ applied: [] });
      await earlier.sql`update schema_migrations set checksum = ${'0'.repeat(64)} where version = 1`;
      const err = await migrate(earlier.sql).catch((e: unknown) => e);
      expect(isMigrationError(err) && err.code).toBe('checksum_mismatch');
    } finally {
      await earlier.drop();
    }
  });

  describe('with its own migration files', () => {
    const dir = tempDir('cockpit-migrations-');
    let own: TestDatabase;
    beforeAll(async () => {
      own = await createTestDatabase({ migrate: false });
    });
    afterAll(async () => {
      await own?.drop();
    });

    it('rolls a failing migration back whole and applies it once it is fixed', async () => {
      writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE a (x int);');
      writeFileSync(join(dir, '0002_b.sql'), 'CREATE TABLE b (x int); SELECT no_such_function();');
      const failing = await loadMigrations(dir);
      const err = await migrate(own.sql, failing).catch((e: unknown) => e);
      expect(isMigrationError(err) && err.code).toBe('migration_failed');
      const [b] = await own.sql<{ b: string | null }[]>`SELECT to_regclass('b')::text AS b`;
      expect(b?.b).toBeNull();
      expect((await schemaStatus(own.sql, failing)).pending).toEqual([2]);

      writeFileSync(join(dir, '0002_b.sql'), 'CREATE TABLE b (x int);');
      expect(await migrate(own.sql, await loadMigrations(dir))).toEqual({ applied: [2] });
    });

    it('refuses a migration that changed after it was applied', async () => {
      writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE a (x int, y int);');
      const err = await migrate(own.sql, await loadMigrations(dir)).catch((e: unknown) => e);
      expect(isMigrationError(err) && err.code).toBe('checksum_mismatch');
    });

    it('accepts a changed migration only when its former checksum is listed for it', async () => {
      writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE a (x int);');
      const applied = (await loadMigrations(dir))[0]?.checksum ?? '';
      // The same statement in another letter case: the recorded checksum is this file's former one.
      writeFileSync(join(dir, '0001_a.sql'), 'create table a (x int);');
      expect(await migrate(own.sql, await loadMigrations(dir, { 1: [applied] }))).toEqual({ applied: [] });
      const err = await migrate(own.sql, await loadMigrations(dir, { 2: [applied] })).catch(
        (e: unknown) => e,
      );
      expect(isMigrationError(err) && err.code).toBe('checksum_mismatch');
    });

    it('refuses badly named files', async () => {
      const bad = tempDir('cockpit-migrations-bad-');
      writeFileSync(join(bad, '1_a.sql'), 'SELECT 1;');
      const err = await loadMigrations(bad).catch((e: unknown) => e);
      expect(isMigrationError(err) && err.code).toBe('bad_migration_file');
    });
  });
});

/** `promise`, or a failure naming what did not happen within `ms`. */
function withinMs<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
