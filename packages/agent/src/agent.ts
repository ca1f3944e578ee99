import { randomUUID } from 'node:crypto';
import { rename } from 'node:fs/promises';
import type { Logger } from 'pino';
import { CommandExecutor } from './commands/command-executor.ts';
import { CommandRecord } from './commands/command-record.ts';
import type { AgentConfig } from './config/agent-config.ts';
import type { BackoffOptions } from './connection/backoff.ts';
import { isCaPinError } from './connection/ca-pin.ts';
import { runConnectionLoop } from './connection/connection-loop.ts';
import { ControllerTrust } from './connection/controller-trust.ts';
import { joinController } from './connection/join-controller.ts';
import { createDriver } from './driver/create-driver.ts';
import type { HypervisorDriver } from './driver/driver.ts';
import type { SharedTicker } from './driver/simulated/shared-ticker.ts';
import { CursorStore, isCursorFileError } from './journal/cursor-store.ts';
import { Journal } from './journal/journal.ts';
import { createLogger } from './log/logger.ts';
import { AgentMetrics, type MetricsStatus } from './metrics/agent-metrics.ts';
import { DEFAULT_METRICS_CONFIG } from './metrics/metrics-config.ts';
import { MigrationSource } from './migration/migration-source.ts';
import { MigrationTarget } from './migration/migration-target.ts';
import { type HostCredential, loadCredential, retireCredential } from './state/credential-store.ts';
import { ensureStateDir, type StateFiles } from './state/state-dir.ts';
import { AGENT_VERSION } from './version.ts';

export interface AgentOptions {
  config: AgentConfig;
  /** Default: JSON lines on stdout at config.logLevel. */
  log?: Logger;
  /** Default: the one config.driver names. Tests and benchmarks may hand in their own. */
  driver?: HypervisorDriver;
  /** The simulated driver's shared ticker (default: one per process). */
  ticker?: SharedTicker;
  /** Reconnect backoff (default 200 ms doubling to 30 s, full jitter). */
  backoff?: BackoffOptions;
  /** A session up this long resets the backoff (default 10 s). */
  stableAfterMs?: number;
  /** How long to wait for Welcome (default 15 s). */
  welcomeTimeoutMs?: number;
  /** Live-migration timings (default: progress every second, a cancel waits up to 30 s). */
  migration?: { progressIntervalMs?: number; cancelWaitMs?: number };
}

/** How an agent stopped for good. */
export type AgentStop =
  | { kind: 'closed' }
  /** The controller revoked this host; the credential was moved aside. */
  | { kind: 'revoked'; message: string }
  /** It could not go on: a refused join token, a CA that does not match the pin, … */
  | { kind: 'failed'; error: Error };

export interface AgentStatus {
  hostId: string | undefined;
  connected: boolean;
  journalFloor: number;
  journalHead: number;
  metrics: MetricsStatus;
}

export interface AgentHandle {
  /** Random per start (Hello.instance_id). */
  readonly instanceId: string;
  /** Resolves once the agent stopped for good, and why. */
  readonly stopped: Promise<AgentStop>;
  /** The agent's own Prometheus endpoint, when it listens. */
  readonly metricsUrl: string | undefined;
  status(): AgentStatus;
  /** Stops the agent and waits until it has. */
  close(): Promise<void>;
}

/** The agent cannot start with what its state folder and configuration hold. */
export class AgentStartError extends Error {
  override readonly name = 'AgentStartError';
  readonly code = 'no_credential';
}
export const isAgentStartError = (err: unknown): err is AgentStartError => err instanceof AgentStartError;

/**
 * Starts an agent: reads its state folder, then in the background starts the driver, joins the
 * controller if the folder holds no credential yet, and keeps a session with the controller until
 * closed or revoked. Embeddable: many agents may run in one process (the scale benchmark runs 1,000).
 */
export async function startAgent(options: AgentOptions): Promise<AgentHandle> {
  const { config } = options;
  const log = options.log ?? createLogger(config.logLevel);
  const files = await ensureStateDir(config.stateDir);
  let credential = await loadCredential(files);
  if (credential === undefined && config.joinToken === undefined) {
    throw new AgentStartError(
      `${files.credential} holds no credential: start the agent once with --join-token (COCKPIT_AGENT_JOIN_TOKEN)`,
    );
  }
  if (credential !== undefined && config.joinToken !== undefined) {
    log.info(
      { hostId: credential.hostId },
      'the state folder holds a credential: the join token is not used',
    );
  }
  const journal = await openJournal(files, config.journalCapacity, log);
  const { record, interrupted } = await CommandRecord.open(files.commands);
  if (interrupted.length > 0) {
    log.warn(
      { commandIds: interrupted },
      'commands cut short by the last stop: answered as interrupted, never re-run',
    );
  }
  const driver = options.driver ?? createDriver(config, log, options.ticker);
  // What the driver advertises once started (a simulated host's port), else --migration-uri.
  const migrationUri = () => driver.migration?.advertisedUri?.() ?? config.migrationUri;
  const executor = new CommandExecutor({
    record,
    driver,
    migrationSource: new MigrationSource({ driver, log, ...options.migration }),
    migrationTarget: new MigrationTarget({ driver, migrationUri, log }),
    vms: journal,
    log,
  });
  const metrics = new AgentMetrics({ config: config.metrics ?? DEFAULT_METRICS_CONFIG, driver, log });
  try {
    await metrics.listen(() => ({
      info: {
        version: AGENT_VERSION,
        driver: config.driver,
        hostname: config.hostname,
        hostId: credential?.hostId ?? '',
      },
      journal: { entries: journal.size, head: journal.head, floor: journal.floor },
      commands: record.statusCounts(),
    }));
  } catch (err) {
    await record.close();
    throw err;
  }
  const trust = new ControllerTrust(config, files);
  const instanceId = randomUUID();
  const stop = new AbortController();
  let connected = false;
  log.info(
    {
      version: AGENT_VERSION,
      instanceId,
      driver: config.driver,
      controller: config.controller.target,
      stateDir: config.stateDir,
      journalFloor: journal.floor,
    },
    'agent starting',
  );

  const run = async (): Promise<AgentStop> => {
    await driver.start(journal, stop.signal);
    if (stop.signal.aborted) return { kind: 'closed' };
    if (migrationUri() !== config.migrationUri) {
      log.info({ migrationUri: migrationUri() }, 'other hosts migrate VMs here under this URI');
    }
    metrics.start();
    const joined: HostCredential =
      credential ?? (await joinController({ config, driver, trust, files, log, signal: stop.signal }));
    credential = joined;
    const exit = await runConnectionLoop({
      createClient: () => trust.client(),
      retryable: (err) => isCaPinError(err) && err.code === 'unreachable',
      credential: joined,
      journal,
      executor,
      hello: () => ({
        hostname: config.hostname,
        agentVersion: AGENT_VERSION,
        driver: driver.kind,
        host: journal.currentHost ?? driver.hostInfo(),
        journalFloor: journal.floor,
        journalHead: journal.head,
        migrationUri: migrationUri(),
        instanceId,
      }),
      log,
      signal: stop.signal,
      welcomeTimeoutMs: options.welcomeTimeoutMs ?? 15_000,
      backoff: options.backoff,
      stableAfterMs: options.stableAfterMs,
      secondary: metrics.buffer,
      onState: (state) => {
        connected = state.connected;
        metrics.connectionState(state);
      },
    });
    if (exit.kind === 'revoked') {
      await retireCredential(files);
      return exit;
    }
    return { kind: 'closed' };
  };

  const stopped = (async (): Promise<AgentStop> => {
    try {
      return await run();
    } catch (err) {
      if (stop.signal.aborted) return { kind: 'closed' };
      return { kind: 'failed', error: err instanceof Error ? err : new Error(String(err)) };
    } finally {
      connected = false;
      await executor.close();
      await metrics.close();
      await driver.close();
      await record.close();
    }
  })();

  return {
    instanceId,
    stopped,
    metricsUrl: metrics.url,
    status: () => ({
      hostId: credential?.hostId,
      connected,
      journalFloor: journal.floor,
      journalHead: journal.head,
      metrics: metrics.status(),
    }),
    close: async () => {
      stop.abort();
      await stopped;
    },
  };
}

async function openJournal(files: StateFiles, capacity: number, log: Logger): Promise<Journal> {
  try {
    const { store, previous } = await CursorStore.open(files.cursor);
    return new Journal({ cursors: store, previous, capacity });
  } catch (err) {
    if (!isCursorFileError(err)) throw err;
    // Recoverable by the protocol: a controller ahead of the journal (Welcome) moves it past its cursor,
    // and until the controller acknowledges this run's sending every session starts with a snapshot, so
    // a controller cursor that this run's numbers reuse is never replayed from (Journal.canReplayFrom).
    const aside = `${files.cursor}.corrupt-${Date.now()}`;
    await rename(files.cursor, aside);
    log.error(
      { err, movedTo: aside },
      'cursor file unreadable: starting from 0; the controller will move it past its own',
    );
    const { store, previous } = await CursorStore.open(files.cursor);
    return new Journal({ cursors: store, previous, capacity });
  }
}
