import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CodedError } from '../coded-error.ts';
import { cancelOnAbort, type Sql } from './sql.ts';

/** Where the controller's schema lives: `NNNN_name.sql`, applied in order, each once. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

// One key for every replica of every version: whoever takes it migrates, the others wait, then find nothing to do.
const MIGRATION_LOCK_KEY = '7165064483209651249';

// Applied migrations are checksummed, so their files never change; when one was reformatted anyway,
// the checksum of its earlier text is listed here and a database that applied that text is still
// current (the schema is the same). New entries: only for changes that leave the schema as it was.
const FORMER_CHECKSUMS: Readonly<Record<number, readonly string[]>> = {
  // 0001_core.sql before its keywords were lower-cased like every other migration's.
  1: ['2a742a26be876925c4f69fa8a7dd424c1c4203c94f1a63fea54a97bc60e0260a'],
};

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
  /** Checksums of earlier texts of this file with the same effect (see FORMER_CHECKSUMS). */
  formerChecksums: readonly string[];
}

export type MigrationErrorCode = 'bad_migration_file' | 'checksum_mismatch' | 'migration_failed';

export class MigrationError extends CodedError<MigrationErrorCode> {}

export const isMigrationError = (err: unknown): err is MigrationError => err instanceof MigrationError;

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

let bundled: Promise<Migration[]> | undefined;

/** The controller's own migrations, read once per process. */
export function bundledMigrations(): Promise<Migration[]> {
  bundled ??= loadMigrations(MIGRATIONS_DIR, FORMER_CHECKSUMS);
  return bundled;
}

export async function loadMigrations(
  dir: string,
  formerChecksums: Readonly<Record<number, readonly string[]>> = {},
): Promise<Migration[]> {
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
      formerChecksums: formerChecksums[version] ?? [],
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
    // Waiting for another replica's migration, and a migration itself, may take longer than the pool's
    // statement timeout allows an ordinary query; this connection goes back to the pool reset.
    await conn`set statement_timeout = 0`;
    await conn`select pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`;
    try {
      await conn.unsafe(`create table if not exists schema_migrations (
        version    integer primary key,
        name       text not null,
        checksum   text not null,
        applied_at timestamptz not null default now()
      )`);
      const rows = await conn<{ version: number; checksum: string }[]>`
        select version, checksum from schema_migrations`;
      const recorded = new Map(rows.map((r) => [r.version, r.checksum]));
      const applied: number[] = [];
      for (const m of wanted) {
        const checksum = recorded.get(m.version);
        if (checksum !== undefined) {
          if (checksum !== m.checksum && !m.formerChecksums.includes(checksum)) {
            throw new MigrationError(
              'checksum_mismatch',
              `migration ${m.version}_${m.name} was changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        await conn.unsafe('begin');
        try {
          await conn.unsafe(m.sql);
          await conn`insert into schema_migrations (version, name, checksum)
                     values (${m.version}, ${m.name}, ${m.checksum})`;
          await conn.unsafe('commit');
        } catch (err) {
          await conn.unsafe('rollback');
          throw new MigrationError('migration_failed', `migration ${m.version}_${m.name} failed`, {
            cause: err,
          });
        }
        applied.push(m.version);
      }
      return { applied };
    } finally {
      // A connection that died has released its session lock with it; nothing more to undo then.
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`.catch(() => undefined);
    }
  } finally {
    await conn`reset statement_timeout`.catch(() => undefined);
    conn.release();
  }
}

export interface SchemaStatus {
  current: boolean;
  /** Known migrations the database has not recorded. */
  pending: number[];
}

/**
 * Whether every migration this code knows is recorded: what `/readyz` reports. An aborted `signal`
 * cancels the query in flight, so a probe that gave up does not keep holding a connection.
 */
export async function schemaStatus(
  sql: Sql,
  migrations?: Migration[],
  options: { signal?: AbortSignal } = {},
): Promise<SchemaStatus> {
  const wanted = migrations ?? (await bundledMigrations());
  const { signal } = options;
  const [table] = await cancelOnAbort(
    sql<{ exists: boolean }[]>`select to_regclass('schema_migrations') is not null as exists`,
    signal,
  );
  const recorded = new Set(
    table?.exists
      ? (await cancelOnAbort(sql<{ version: number }[]>`select version from schema_migrations`, signal)).map(
          (r) => r.version,
        )
      : [],
  );
  const pending = wanted.filter((m) => !recorded.has(m.version)).map((m) => m.version);
  return { current: pending.length === 0, pending };
}
