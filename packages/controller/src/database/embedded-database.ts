import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { CodedError } from '../coded-error.ts';

/** The data folder's embedded database is already open, in this process or another. */
export class EmbeddedDatabaseError extends CodedError<'data_dir_in_use'> {}

export const isEmbeddedDatabaseError = (err: unknown): err is EmbeddedDatabaseError =>
  err instanceof EmbeddedDatabaseError;

export interface EmbeddedDatabase {
  /** A postgres:// URL on a loopback port, for the same `postgres` client a real server gets. */
  url: string;
  /** The PGlite data folder, `<dataDir>/pgdata`. */
  pgdata: string;
  close(): Promise<void>;
}

/**
 * The zero-setup database: PGlite (PostgreSQL compiled to WebAssembly) with its files under
 * `<dataDir>/pgdata`, served on a loopback port by pglite-socket. PGlite is single-session: the server
 * takes one connection at a time, so clients must connect with a pool of one (`max: 1`).
 * LISTEN/NOTIFY is not available through it: `sql.listen` needs a second connection, which the server
 * refuses (the client then waits forever). Nothing needs it here: an embedded database has exactly one
 * controller, so there is no other replica to notify; code that routes between replicas must deliver
 * in-process when `RunningController.embedded` is set.
 */
export async function startEmbeddedDatabase(dataDir: string): Promise<EmbeddedDatabase> {
  const pgdata = join(dataDir, 'pgdata');
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = lockDataDir(join(dataDir, 'pgdata.lock'));
  try {
    const db = await PGlite.create(pgdata);
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
    await server.start();
    const url = `postgres://postgres@${server.getServerConn()}/postgres?sslmode=disable`;
    let closing: Promise<void> | undefined;
    return {
      url,
      pgdata,
      close: () => {
        closing ??= (async () => {
          try {
            await server.stop();
            await db.close();
          } finally {
            releaseLock();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    releaseLock();
    throw err;
  }
}

// Lock files this process holds: a lock naming our own pid is ours only if it is in here. (In a
// container the controller is often pid 1 on every start, so a lock left by a killed run names us.)
const held = new Set<string>();

// Two PGlite processes on one data folder would corrupt it: the lock file names the owner, and a
// lock left by a process that is gone is taken over.
function lockDataDir(lockFile: string): () => void {
  const where = lockFile.replace(/\.lock$/, '');
  if (held.has(lockFile))
    throw new EmbeddedDatabaseError('data_dir_in_use', `the embedded database in ${where} is already open`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(lockFile);
      return () => {
        held.delete(lockFile);
        rmSync(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lockFile, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new EmbeddedDatabaseError(
          'data_dir_in_use',
          `the embedded database in ${where} is in use by process ${owner}`,
        );
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new EmbeddedDatabaseError('data_dir_in_use', `could not lock ${lockFile}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
