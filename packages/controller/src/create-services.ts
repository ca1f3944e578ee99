import type { Logger } from 'pino';
import { type AuditService, createAuditService } from './audit/audit-service.ts';
import { type AuthOptions, type AuthService, createAuthService } from './auth/auth-service.ts';
import { type Clock, systemClock } from './clock.ts';
import type { Config } from './config/config.ts';
import { connect } from './database/connect.ts';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './database/embedded-database.ts';
import { migrate } from './database/migrate.ts';
import type { Sql } from './database/sql.ts';
import { createHostService, type HostService } from './hosts/host-service.ts';
import { createLogger } from './log.ts';
import { ensureAdminUser } from './users/ensure-admin-user.ts';
import { createUserService, type UserService } from './users/user-service.ts';
import { createVmService, type VmService } from './vms/vm-service.ts';

/**
 * Everything an entry point (the HTTP API, the agents' gRPC service) may use. Entry points get it
 * handed in, never import singletons, so a test builds the whole controller on its own database,
 * clock and keys.
 */
export interface Services {
  config: Config;
  /** For database plumbing only (readiness); features reach the database through their service. */
  sql: Sql;
  clock: Clock;
  log: Logger;
  auth: AuthService;
  users: UserService;
  audit: AuditService;
  hosts: HostService;
  vms: VmService;
}

export interface CreateServicesOptions extends AuthOptions {
  clock?: Clock;
  log?: Logger;
  /** Where a generated admin password is shown once (default stdout). */
  print?: (text: string) => void;
  /**
   * A database client to use instead of connecting to `config.database` (the tests bring theirs, one
   * database per test file). It is migrated like any other, and left open by `close()`.
   */
  sql?: Sql;
}

export interface ControllerServices {
  services: Services;
  /** Set when the controller runs on its embedded PGlite. */
  embedded?: EmbeddedDatabase;
  /** Closes what createServices opened, last built first. */
  close(): Promise<void>;
}

/**
 * The composition root: the one place the controller's parts are built and wired, used by
 * startController (and so by `pnpm start` and the benchmark) and by the tests' app. In order: the
 * database (embedded PGlite unless COCKPIT_DATABASE_URL is set), the auth service (whose signing key
 * is checked before the schema is touched), schema migrations, the first admin, then the domain
 * services. Throws SigningKeyError or AdminPasswordError for a configuration it must not start with.
 */
export async function createServices(
  config: Config,
  options: CreateServicesOptions = {},
): Promise<ControllerServices> {
  const log = options.log ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  let embedded: EmbeddedDatabase | undefined;
  let ownSql: Sql | undefined;
  const close = async () => {
    await ownSql?.end({ timeout: 5 });
    await embedded?.close();
  };
  try {
    let sql = options.sql;
    if (sql === undefined) {
      let url = config.database.url;
      if (url === undefined) {
        embedded = await startEmbeddedDatabase(config.dataDir);
        url = embedded.url;
        log.info({ pgdata: embedded.pgdata }, 'embedded database (PGlite) started');
      }
      // PGlite serves one connection at a time: its client keeps a pool of one.
      ownSql = connect(url, {
        max: embedded ? 1 : 10,
        statementTimeoutMs: config.database.statementTimeoutMs,
        log,
      });
      sql = ownSql;
    }
    // Before migrating: a weak or unreadable signing key stops the start without touching the schema.
    const auth = createAuthService({
      sql,
      clock,
      config,
      log,
      throttlePolicy: options.throttlePolicy,
      userCacheMs: options.userCacheMs,
    });
    const { applied } = await migrate(sql);
    log.info({ applied }, applied.length > 0 ? 'schema migrated' : 'schema current');
    await ensureAdminUser({ sql, config, log, clock, print: options.print });

    const services: Services = {
      config,
      sql,
      clock,
      log,
      auth,
      users: createUserService({ sql, clock, auth }),
      audit: createAuditService({ sql }),
      hosts: createHostService({ sql }),
      vms: createVmService({ sql }),
    };
    // The agent side joins here, built once for every entry point: the sync ingest and change feed
    // (hosts.sync_cursor), the command router (in-process on the embedded database, LISTEN/NOTIFY on a
    // server) and the migration coordinator, each a member of Services, closed in `close` before the
    // database. The gRPC AgentService is an entry point like HTTP: startController serves it.
    return { services, embedded, close };
  } catch (err) {
    await close().catch((closeErr: unknown) => log.error({ err: closeErr }, 'cleanup after a failed start'));
    throw err;
  }
}
