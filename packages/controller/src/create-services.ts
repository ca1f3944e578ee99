import type { Logger } from 'pino';
import { AgentHub } from './agents/agent-hub.ts';
import { createSyncIngest, type SyncIngest } from './agents/sync-ingest.ts';
import { type AuditService, createAuditService } from './audit/audit-service.ts';
import { createRefusalCounter, type RefusalCounter } from './audit/refusal-counter.ts';
import { type AuthOptions, type AuthService, createAuthService } from './auth/auth-service.ts';
import { type Clock, systemClock } from './clock.ts';
import { type CommandService, createCommandService } from './commands/command-service.ts';
import type { Config } from './config/config.ts';
import { makePrivate } from './data-dir/private-files.ts';
import type { EmbeddedDatabase } from './database/embedded-database.ts';
import { migrate } from './database/migrate.ts';
import { type OpenDatabase, openDatabase } from './database/open-database.ts';
import type { Sql } from './database/sql.ts';
import { type AgentEndpoint, createHostService, type HostService } from './hosts/host-service.ts';
import { createLogger } from './log.ts';
import { MetricIngest } from './metrics/metric-ingest.ts';
import { createMetricMaintenance, type MetricMaintenance } from './metrics/metric-maintenance.ts';
import { createMetricService, type MetricService } from './metrics/metric-service.ts';
import { MigrationCoordinator } from './migrations/migration-coordinator.ts';
import { createMigrationService, type MigrationService } from './migrations/migration-service.ts';
import { createInProcessNotifier } from './notifier/in-process-notifier.ts';
import type { Notifier } from './notifier/notifier.ts';
import { createPostgresNotifier } from './notifier/postgres-notifier.ts';
import { createOperationService, type OperationService } from './operations/operation-service.ts';
import { type GrpcTls, loadGrpcTls, serverNames } from './pki/grpc-tls.ts';
import { RequestDurations } from './prometheus/request-durations.ts';
import { createRetention, type Retention } from './retention/retention.ts';
import { ensureAdminUser } from './users/ensure-admin-user.ts';
import { createUserService, type UserService } from './users/user-service.ts';
import { VmCache } from './vms/vm-cache.ts';
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
  /** This replica's VMs in memory, fed by the change log (what the VM reads answer from). */
  vmCache: VmCache;
  operations: OperationService;
  migrations: MigrationService;
  /** Drives the live migrations this replica holds the lease of. */
  coordinator: MigrationCoordinator;
  commands: CommandService;
  /** What crosses replicas (command routing, stream hand-overs, operation wake-ups). */
  notifier: Notifier;
  /** Applies what agents report (batches, snapshots) to hosts and VMs. */
  ingest: SyncIngest;
  /** This replica's agent streams (the gRPC entry point serves them). */
  agents: AgentHub;
  /** The gRPC listener's TLS material; null when it runs plaintext (loopback development). */
  grpcTls: GrpcTls | null;
  /** Where agents reach this controller; `address` is set once the gRPC listener is bound. */
  agentEndpoint: AgentEndpoint;
  /** Deletes audit entries, dead refresh tokens and change log rows past COCKPIT_RETENTION_DAYS (hourly, one replica). */
  retention: Retention;
  /** Requests refused before they reached anyone (counted, not audited one row each). */
  refusals: RefusalCounter;
  /** Performance samples: written as agents send them, rolled up and pruned, read as series. */
  metrics: MetricService;
  /** Takes agents' samples off their streams into the raw tables (batched). */
  metricIngest: MetricIngest;
  /** Rollups, retention and partitions of the metric tables (every minute, one replica). */
  metricMaintenance: MetricMaintenance;
  /** How long the HTTP API takes to answer (the histogram of /metrics). */
  requestDurations: RequestDurations;
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
  /**
   * How signals cross replicas: `in-process` (the embedded database: one connection, one controller) or
   * `postgres` (LISTEN/NOTIFY). Default: in-process on the embedded database, else postgres.
   */
  notifier?: 'in-process' | 'postgres';
  /** How long a migration coordinator's lease lasts unless renewed (default 15 s; tests shorten it). */
  migrationLeaseMs?: number;
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
  let database: OpenDatabase | undefined;
  let notifier: Notifier | undefined;
  let agents: AgentHub | undefined;
  let retention: Retention | undefined;
  let metricIngest: MetricIngest | undefined;
  let metricMaintenance: MetricMaintenance | undefined;
  let coordinator: MigrationCoordinator | undefined;
  let vmCache: VmCache | undefined;
  const close = async () => {
    vmCache?.close();
    await retention?.stop();
    await metricMaintenance?.stop();
    await coordinator?.stop();
    await agents?.close();
    // After the streams: what they sent last is written before the database closes.
    await metricIngest?.stop();
    await notifier?.close();
    await database?.close();
  };
  try {
    let sql = options.sql;
    if (sql === undefined) {
      database = await openDatabase(config, log);
      sql = database.sql;
    }
    const embedded = database?.embedded;
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

    // The agent side: TLS for the gRPC listener (the controller's own CA, created on the first start),
    // the notifier that routes commands and stream hand-overs between replicas, the sync ingest, and
    // this replica's hub of agent streams. The gRPC AgentService is an entry point like HTTP:
    // startController serves it. The migration coordinator drives the migrations whose lease it holds.
    const grpcTls =
      config.grpc.tls.mode === 'plaintext'
        ? null
        : loadGrpcTls({
            dataDir: config.dataDir,
            names: serverNames(grpcNames(config)),
            files: config.grpc.tls.mode === 'files' ? config.grpc.tls : undefined,
            now: clock.now(),
          });
    const agentEndpoint: AgentEndpoint = { caFingerprint: grpcTls?.caFingerprint ?? null };
    const crossReplica = options.notifier ?? (embedded !== undefined ? 'in-process' : 'postgres');
    notifier =
      crossReplica === 'postgres' ? await createPostgresNotifier(sql, log) : createInProcessNotifier(log);
    const commands = createCommandService({ sql, clock, notifier, log });
    // With LISTEN/NOTIFY, the change log's notifications say when the cache is behind; without, every
    // read catches up (the embedded database: in-process, one connection).
    vmCache = new VmCache({ sql, log, notifier: crossReplica === 'postgres' ? notifier : undefined });
    const cache = vmCache;
    // A const for the closure below (`notifier` is reassigned only here, but TypeScript cannot know).
    const tell = notifier;
    const ingest = createSyncIngest({
      sql,
      clock,
      log,
      changesCommitted: (writes, at) => cache.committed(writes, at),
      migrationsTouched: (ids) => {
        for (const id of ids) {
          void tell.publish('migrations', id).catch((err: unknown) => log.warn({ err }, 'notify failed'));
        }
      },
    });
    metricIngest = new MetricIngest({
      sql,
      clock,
      log,
      retention: config.metrics.retention,
      // A host's agent feeds samples only of the VMs this replica's cache holds on that host.
      owners: cache,
      latestStaleMs: Math.max(30_000, 3 * config.metrics.intervalMs),
    });
    metricMaintenance = createMetricMaintenance({ sql, clock, log, retention: config.metrics.retention });
    agents = new AgentHub({
      sql,
      clock,
      log,
      notifier,
      ingest,
      commands,
      metrics: metricIngest,
      config: { ...config.agents, metricsIntervalMs: config.metrics.intervalMs },
      changesCommitted: () => cache.committed(),
    });
    coordinator = new MigrationCoordinator({
      sql,
      clock,
      log,
      notifier,
      commands,
      replica: agents.replica,
      leaseMs: options.migrationLeaseMs,
      changesCommitted: () => cache.committed(),
    });
    retention = createRetention({ sql, clock, log, days: config.retentionDays });
    const services: Services = {
      config,
      sql,
      clock,
      log,
      auth,
      users: createUserService({ sql, clock, auth, dataDir: config.dataDir }),
      audit: createAuditService({ sql }),
      hosts: createHostService({
        sql,
        clock,
        notifier,
        log,
        endpoint: agentEndpoint,
        changesCommitted: () => cache.committed(),
      }),
      vms: createVmService({ sql, clock, commands, cache }),
      vmCache,
      operations: createOperationService({ sql, notifier }),
      migrations: createMigrationService({
        sql,
        clock,
        notifier,
        log,
        // Three sampling periods: one late batch does not switch the memory check to the total.
        maxSampleAgeMs: Math.max(30_000, 3 * config.metrics.intervalMs),
      }),
      coordinator,
      commands,
      notifier,
      ingest,
      agents,
      grpcTls,
      agentEndpoint,
      retention,
      refusals: createRefusalCounter({ log }),
      metrics: createMetricService({
        sql,
        clock,
        retention: config.metrics.retention,
        intervalMs: config.metrics.intervalMs,
      }),
      metricIngest,
      metricMaintenance,
      requestDurations: new RequestDurations(),
    };
    metricIngest.start();
    agents.start();
    coordinator.start();
    retention.start();
    metricMaintenance.start();
    // Keys, the CA, the first password and the database are all in place: none readable by others.
    makePrivate(config.dataDir);
    return { services, embedded, close };
  } catch (err) {
    await close().catch((closeErr: unknown) => log.error({ err: closeErr }, 'cleanup after a failed start'));
    throw err;
  }
}

/** Names the generated server certificate must cover besides the defaults: the listener and what agents dial. */
function grpcNames(config: Config): string[] {
  const names: string[] = [];
  if (!['0.0.0.0', '::', ''].includes(config.grpc.host)) names.push(config.grpc.host);
  const advertised = config.grpc.advertiseAddress;
  if (advertised !== undefined) names.push(advertised.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'));
  return names;
}
