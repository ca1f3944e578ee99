import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { makePrivate } from '../data-dir/private-files.ts';
import { connect } from './connect.ts';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './embedded-database.ts';
import type { Sql } from './sql.ts';

export interface OpenDatabase {
  sql: Sql;
  /** Set when it is the embedded PGlite in the data folder. */
  embedded?: EmbeddedDatabase;
  close(): Promise<void>;
}

/**
 * The controller's database: COCKPIT_DATABASE_URL's server, or the embedded PGlite under the data
 * folder (whose files are then made private to the controller's user, whatever PGlite wrote them
 * with). Used by the controller and by its maintenance commands (reset-admin-password).
 */
export async function openDatabase(config: Config, log: Logger): Promise<OpenDatabase> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.database.url;
  if (url === undefined) {
    embedded = await startEmbeddedDatabase(config.dataDir);
    makePrivate(config.dataDir);
    url = embedded.url;
    log.info({ pgdata: embedded.pgdata }, 'embedded database (PGlite) started');
  }
  // PGlite serves one connection at a time: its client keeps a pool of one.
  const sql = connect(url, {
    max: embedded ? 1 : 10,
    statementTimeoutMs: config.database.statementTimeoutMs,
    log,
  });
  return {
    sql,
    embedded,
    close: async () => {
      // The timeout also bounds a known hang: postgres.js never settles end() once a connection died
      // under a query (porsager/postgres#1097), e.g. after a PostgreSQL restart.
      await sql.end({ timeout: 5 });
      await embedded?.close();
    },
  };
}
