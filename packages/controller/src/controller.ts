import type { Logger } from 'pino';
import { createAuthService } from './auth/auth-service.ts';
import { type Clock, systemClock } from './clock.ts';
import { type Config, loadConfig } from './config/config.ts';
import type { Services } from './http/app-env.ts';
import { createApp } from './http/create-app.ts';
import { type RunningServer, serveHttp } from './http/serve.ts';
import { createLogger } from './log.ts';
import { connect } from './store/connect.ts';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './store/embedded-database.ts';
import { migrate } from './store/migrate.ts';
import type { Sql } from './store/sql.ts';
import { ensureAdminUser } from './users/ensure-admin-user.ts';

export interface StartControllerOptions {
  /** Environment variables to configure from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Anchors a relative COCKPIT_DATA_DIR (default the current directory). */
  cwd?: string;
  clock?: Clock;
  log?: Logger;
  /** Where a generated admin password is shown once (default stdout). */
  print?: (text: string) => void;
}

export interface RunningController {
  /** The base URL the API answers on. */
  url: string;
  config: Config;
  services: Services;
  /** Set when the controller runs on its embedded PGlite. */
  embedded?: EmbeddedDatabase;
  /** Stops serving (requests in flight finish), then closes the database. */
  close(): Promise<void>;
}

/**
 * Starts a whole controller: configuration, the database (embedded PGlite unless COCKPIT_DATABASE_URL
 * is set), schema migrations, auth with the first admin, and the HTTP API. Throws ConfigError,
 * SigningKeyError or AdminPasswordError for a configuration it must not start with.
 */
export async function startController(options: StartControllerOptions = {}): Promise<RunningController> {
  const config = loadConfig(options.env ?? process.env, options.cwd);
  const log = options.log ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;

  let embedded: EmbeddedDatabase | undefined;
  let sql: Sql | undefined;
  let server: RunningServer | undefined;
  const close = async () => {
    await server?.close();
    await sql?.end({ timeout: 5 });
    await embedded?.close();
  };
  try {
    let url = config.databaseUrl;
    if (url === undefined) {
      embedded = await startEmbeddedDatabase(config.dataDir);
      url = embedded.url;
      log.info({ pgdata: embedded.pgdata }, 'embedded database (PGlite) started');
    }
    // PGlite serves one connection at a time: its client keeps a pool of one.
    sql = connect(url, { max: embedded ? 1 : 10, log });
    // Before migrating: a weak or unreadable signing key stops the start without touching the schema.
    const auth = createAuthService({ sql, clock, config, log });
    const { applied } = await migrate(sql);
    log.info({ applied }, applied.length > 0 ? 'schema migrated' : 'schema current');

    await ensureAdminUser({ sql, config, log, clock, print: options.print });
    const services: Services = { config, sql, clock, log, auth };
    const app = createApp(services);
    server = await serveHttp(app.fetch, config.http);
    log.info({ url: server.url, docs: `${server.url}/docs` }, 'controller listening');
    return { url: server.url, config, services, embedded, close };
  } catch (err) {
    await close().catch((closeErr: unknown) => log.error({ err: closeErr }, 'cleanup after a failed start'));
    throw err;
  }
}
