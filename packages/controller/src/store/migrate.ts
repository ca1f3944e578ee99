import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Sql } from './sql.ts';

/** Where the controller's schema lives: `NNNN_name.sql`, applied in order, each once. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

// One key for every replica of every version: whoever takes it migrates, the others wait, then find nothing to do.
const MIGRATION_LOCK_KEY = '7165064483209651249';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export type MigrationErrorCode = 'bad_migration_file' | 'checksum_mismatch' | 'migration_failed';

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isMigrationError = (err: unknown): err is MigrationError => err instanceof MigrationError;

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

let bundled: Promise<Migration[]> | undefined;

/** The controller's own migrations, read once per process. */
export function bundledMigrations(): Promise<Migration[]> {
  bundled ??= loadMigrations(MIGRATIONS_DIR);
  return bundled;
}

export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (!match?.[1] || !match[2]) {
      throw new MigrationError('bad_migration_file', `migration file ${file} is not named NNNN_name.sql`);
    }
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new MigrationError('bad_migration_file', `two migration files have version ${match[1]}`);
    }
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    migrations.push({
      version,
      name: match[2],
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  return migrations;
}

export interface MigrateResult {
  /** Versions this call applied; empty when the schema was already current. */
  applied: number[];
}

/**
 * Brings the schema up to date: under a session advisory lock (so replicas starting together migrate
 * once), applies each migration not yet recorded in `schema_migrations`, each in its own transaction
 * together with its record. A recorded migration whose file changed since is refused: the schema
 * would no longer be what the code expects.
 */
export async function migrate(sql: Sql, migrations?: Migration[]): Promise<MigrateResult> {
  const wanted = migrations ?? (await bundledMigrations());
  const conn = await sql.reserve();
  try {
    await conn`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`;
    try {
      await conn.unsafe(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const rows = await conn<{ version: number; checksum: string }[]>`
        SELECT version, checksum FROM schema_migrations`;
      const recorded = new Map(rows.map((r) => [r.version, r.checksum]));
      const applied: number[] = [];
      for (const m of wanted) {
        const checksum = recorded.get(m.version);
        if (checksum !== undefined) {
          if (checksum !== m.checksum) {
            throw new MigrationError(
              'checksum_mismatch',
              `migration ${m.version}_${m.name} was changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        await conn.unsafe('BEGIN');
        try {
          await conn.unsafe(m.sql);
          await conn`INSERT INTO schema_migrations (version, name, checksum)
                     VALUES (${m.version}, ${m.name}, ${m.checksum})`;
          await conn.unsafe('COMMIT');
        } catch (err) {
          await conn.unsafe('ROLLBACK');
          throw new MigrationError('migration_failed', `migration ${m.version}_${m.name} failed`, {
            cause: err,
          });
        }
        applied.push(m.version);
      }
      return { applied };
    } finally {
      // A connection that died has released its session lock with it; nothing more to undo then.
      await conn`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`.catch(() => undefined);
    }
  } finally {
    conn.release();
  }
}

export interface SchemaStatus {
  current: boolean;
  /** Known migrations the database has not recorded. */
  pending: number[];
}

/** Whether every migration this code knows is recorded: what `/readyz` reports. */
export async function schemaStatus(sql: Sql, migrations?: Migration[]): Promise<SchemaStatus> {
  const wanted = migrations ?? (await bundledMigrations());
  const [table] = await sql<{ exists: boolean }[]>`
    SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`;
  const recorded = new Set(
    table?.exists
      ? (await sql<{ version: number }[]>`SELECT version FROM schema_migrations`).map((r) => r.version)
      : [],
  );
  const pending = wanted.filter((m) => !recorded.has(m.version)).map((m) => m.version);
  return { current: pending.length === 0, pending };
}
