import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from './connect.ts';
import { isEmbeddedDatabaseError, startEmbeddedDatabase } from './embedded-database.ts';
import { migrate, schemaStatus } from './migrate.ts';

// PGlite starts in seconds, more on a loaded machine.
describe('embedded database (PGlite behind pglite-socket)', { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cockpit-embedded-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves the postgres client on loopback with a pool of one, and keeps its data across a restart', async () => {
    const first = await startEmbeddedDatabase(dataDir);
    expect(first.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\//);
    // With a statement timeout, as the controller connects: PGlite accepts it (without enforcing it).
    const sql = connect(first.url, { max: 1, statementTimeoutMs: 200 });
    try {
      await migrate(sql);
      await sql`INSERT INTO hosts (id, hostname, status, sync_cursor)
                VALUES ('019e0014-abcd-7057-b326-000000000001', 'node-1', 'connected', 1716999901)`;
      // Queries issued together queue on the one connection, transactions included.
      const [a, , c] = await Promise.all([
        sql`SELECT count(*)::int AS n FROM hosts`,
        sql.begin(async (tx) => {
          await tx`UPDATE hosts SET sync_cursor = sync_cursor + 1`;
        }),
        sql`SELECT sync_cursor FROM hosts`,
      ]);
      expect(a[0]?.n).toBe(1);
      expect(c[0]?.sync_cursor).toBe('1716999902');

      // A second opening of the same data folder is refused rather than corrupting it.
      const err = await startEmbeddedDatabase(dataDir).catch((e: unknown) => e);
      expect(isEmbeddedDatabaseError(err)).toBe(true);
      expect(existsSync(join(dataDir, 'pgdata.lock'))).toBe(true);
    } finally {
      await sql.end();
      await first.close();
    }

    expect(existsSync(join(dataDir, 'pgdata.lock'))).toBe(false);
    // A lock left by a run that was killed (its pid gone, or our own pid when a container restarts
    // the controller as pid 1) is taken over.
    writeFileSync(join(dataDir, 'pgdata.lock'), String(process.pid));
    const second = await startEmbeddedDatabase(dataDir);
    const again = connect(second.url, { max: 1 });
    try {
      expect(await migrate(again)).toEqual({ applied: [] });
      expect((await schemaStatus(again)).current).toBe(true);
      const rows = await again`SELECT hostname, sync_cursor FROM hosts`;
      expect(rows).toEqual([{ hostname: 'node-1', sync_cursor: '1716999902' }]);
    } finally {
      await again.end();
      await second.close();
    }
  });

  it('keeps committed rows when the process is killed without closing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cockpit-embedded-killed-'));
    try {
      // A child process commits a row, then dies by SIGKILL: no close, no flush, lock file left behind.
      const script = `
        import { startEmbeddedDatabase } from './src/database/embedded-database.ts';
        import { connect } from './src/database/connect.ts';
        import { migrate } from './src/database/migrate.ts';
        const db = await startEmbeddedDatabase(${JSON.stringify(dir)});
        const sql = connect(db.url, { max: 1 });
        await migrate(sql);
        await sql\`INSERT INTO hosts (id, hostname) VALUES ('019e0014-abcd-7057-b326-00000000000a', 'survivor')\`;
        process.kill(process.pid, 'SIGKILL');`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: join(import.meta.dirname, '../..'),
        encoding: 'utf8',
      });
      expect(child.signal).toBe('SIGKILL');

      const db = await startEmbeddedDatabase(dir);
      const sql = connect(db.url, { max: 1 });
      try {
        expect(await sql`SELECT hostname FROM hosts`).toEqual([{ hostname: 'survivor' }]);
      } finally {
        await sql.end();
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a data folder held by another live process', async () => {
    const other = mkdtempSync(join(tmpdir(), 'cockpit-embedded-locked-'));
    try {
      // The parent of this test process is alive and is not us.
      writeFileSync(join(other, 'pgdata.lock'), String(process.ppid));
      const err = await startEmbeddedDatabase(other).catch((e: unknown) => e);
      expect(isEmbeddedDatabaseError(err) && err.message).toContain(`process ${process.ppid}`);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
