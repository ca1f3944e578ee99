import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ConnectRequest, ConnectResponse, Hello, MessageStream } from '@cockpit/proto';
import { Driver, GoodbyeReason } from '@cockpit/proto';
import type { Logger } from 'pino';
import { recordChanges } from '../changes/change-queries.ts';
import type { Clock } from '../clock.ts';
import { pendingCommandIds } from '../commands/command-queries.ts';
import type { CommandService } from '../commands/command-service.ts';
import type { AgentsConfig } from '../config/config.ts';
import type { Sql } from '../database/sql.ts';
import { disconnectSilentHosts, releaseStream, takeStream, touchLastSeen } from '../hosts/host-queries.ts';
import type { HostDriver } from '../hosts/host-schema.ts';
import type { AuthenticatedHost } from '../hosts/host-service.ts';
import type { MetricIngest } from '../metrics/metric-ingest.ts';
import type { Notifier } from '../notifier/notifier.ts';
import { AgentSession, type FailCall, type SessionHost } from './agent-session.ts';
import type { SyncIngest } from './sync-ingest.ts';

/** How often last-seen times are written (one statement for all of a replica's streams). */
const FLUSH_MS = 1_000;
/** How often this replica runs the idempotent sweeps (silent hosts of dead replicas, overdue commands). */
const SWEEP_MS = 1_000;
/** How often pending commands of this replica's hosts are looked for, behind the notifications. */
const PENDING_POLL_MS = 5_000;

export interface AgentHubDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
  notifier: Notifier;
  ingest: SyncIngest;
  commands: CommandService;
  /** Where the agents' metric samples go. */
  metrics: Pick<MetricIngest, 'accept'>;
  config: AgentsConfig & { metricsIntervalMs: number };
  /** After a commit that logged host changes (a status): this replica's readers see it at once. */
  changesCommitted?: () => void;
}

/**
 * This replica's agent streams: which host's stream is here, their heartbeats both ways and deadline,
 * their last-seen times (written in batches), delivery of the commands routed to them, and the sweeps
 * every replica runs (hosts of a replica that died, commands past their deadline). One ticker for all
 * streams, not timers per stream, so a thousand agents cost a loop over a map a few times a second.
 */
export class AgentHub {
  /** Names this process in hosts.stream_replica. */
  readonly replica = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly sessions = new Map<string, AgentSession>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Periodic work in flight (flush, sweep, poll): close() waits for it. */
  private readonly periodic = new Set<Promise<void>>();
  private readonly unsubscribe: Array<() => void> = [];
  private flushing = false;
  private sweeping = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Sessions still running (their release included), so a stop can wait for them. */
  private readonly running = new Set<Promise<void>>();

  private readonly sessionHost: SessionHost;

  constructor(private readonly deps: AgentHubDeps) {
    this.sessionHost = {
      log: deps.log,
      heartbeat: { intervalMs: deps.config.heartbeatIntervalMs, deadlineMs: deps.config.heartbeatDeadlineMs },
      metricsIntervalMs: deps.config.metricsIntervalMs,
      metrics: (hostId, batch) => deps.metrics.accept(hostId, batch),
      takeStream: (session, hello) => this.takeStream(session, hello),
      released: (session) => this.released(session),
      applyBatch: (owner, batch) => deps.ingest.applyBatch(owner, batch.changes),
      applySnapshot: (owner, snapshot) => deps.ingest.applySnapshot(owner, snapshot),
      commandUpdate: (hostId, update) => deps.commands.applyUpdate(hostId, update),
      unfinishedCommands: (hostId) => deps.commands.claimUnfinished(hostId),
    };
  }

  start(): void {
    const { notifier, config } = this.deps;
    this.unsubscribe.push(
      notifier.subscribe('commands', (payload) => this.onCommandRouted(payload)),
      notifier.subscribe('streams', (payload) => this.onStreamNotice(payload)),
      notifier.onResync(() => void this.pollPending()),
    );
    const tick = Math.max(50, Math.min(250, Math.floor(config.heartbeatIntervalMs / 4)));
    this.every(tick, () => this.tick());
    this.every(FLUSH_MS, () => this.flushLastSeen());
    this.every(SWEEP_MS, () => this.sweep());
    this.every(PENDING_POLL_MS, () => this.pollPending());
  }

  /** The streams held here, for /metrics: how far behind its agent's journal each host is, how long silent. */
  streams(): Array<{ hostId: string; appliedCursor: number; journalHead: number; silentMs: number }> {
    const now = performance.now();
    return [...this.sessions.values()]
      .filter((s) => s.epoch > 0 && !s.isEnded)
      .map((s) => ({
        hostId: s.hostId,
        appliedCursor: s.appliedCursor,
        journalHead: s.journalHead,
        silentMs: now - s.lastReceived,
      }));
  }

  /** The number of streams held here. */
  get size(): number {
    return this.sessions.size;
  }

  /** Runs one authenticated stream until it ends. */
  async serve(
    stream: MessageStream<ConnectResponse, ConnectRequest>,
    failCall: FailCall,
    auth: AuthenticatedHost,
  ): Promise<void> {
    if (this.closed) {
      failCall('unavailable', 'the controller is shutting down');
      return;
    }
    const session = new AgentSession(this.sessionHost, stream, failCall, auth, () => this.deps.clock.now());
    const run = session.run();
    this.running.add(run);
    try {
      await run;
    } finally {
      this.running.delete(run);
    }
  }

  /**
   * Says goodbye (SHUTTING_DOWN) to every stream, waits (up to `graceMs`) for their hosts to be released
   * (`disconnected` at once rather than after the deadline), and stops the timers. Idempotent.
   */
  close(graceMs = 3_000): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      for (const off of this.unsubscribe) off();
      await this.flushLastSeen();
      await Promise.allSettled(
        [...this.sessions.values()].map((s) =>
          s.goodbye(GoodbyeReason.GOODBYE_REASON_SHUTTING_DOWN, 'the controller is stopping: reconnect'),
        ),
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.running]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
      for (const t of this.timers) clearInterval(t);
      await Promise.allSettled([...this.periodic]);
    })();
    return this.closing;
  }

  /** Runs `run` every `ms`; close() waits for a run in flight (a sweep mid-transaction) before the database closes. */
  private every(ms: number, run: () => Promise<void> | void): void {
    const timer = setInterval(() => {
      const running = Promise.resolve(run());
      this.periodic.add(running);
      const done = () => this.periodic.delete(running);
      running.then(done, done);
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async takeStream(session: AgentSession, hello: Hello) {
    const { sql, clock, notifier } = this.deps;
    const now = clock.now();
    const taken = await sql.begin(async (tx) => {
      const result = await takeStream(tx, {
        hostId: session.hostId,
        credentialHash: session.auth.credentialHash,
        replica: this.replica,
        facts: {
          agentVersion: hello.agentVersion,
          driver: driverName(hello.driver),
          migrationUri: hello.migrationUri,
          info: hello.host,
        },
        now,
      });
      if (result !== null) {
        await recordChanges(tx, now, [
          { kind: 'host', entityId: session.hostId, op: 'upsert', data: result.view },
        ]);
      }
      return result;
    });
    if (taken === null) return null;
    this.deps.changesCommitted?.();
    // An older stream of this host, here or on another replica, ends (REPLACED).
    const previous = this.sessions.get(session.hostId);
    this.sessions.set(session.hostId, session);
    if (previous !== undefined && previous !== session) {
      void previous.goodbye(GoodbyeReason.GOODBYE_REASON_REPLACED, 'a newer stream of this host took over');
    }
    await notifier
      .publish('streams', `${session.hostId} ${taken.epoch}`)
      .catch((err: unknown) => this.deps.log.warn({ err }, 'could not announce the stream'));
    return { epoch: taken.epoch, appliedCursor: taken.view.sync_cursor };
  }

  private async released(session: AgentSession): Promise<void> {
    if (this.sessions.get(session.hostId) === session) this.sessions.delete(session.hostId);
    if (session.epoch === 0) return;
    const { sql, clock, log } = this.deps;
    const now = clock.now();
    const view = await sql.begin(async (tx) => {
      const released = await releaseStream(tx, { hostId: session.hostId, epoch: session.epoch, now });
      if (released !== null) {
        await recordChanges(tx, now, [
          { kind: 'host', entityId: session.hostId, op: 'upsert', data: released },
        ]);
      }
      return released;
    });
    if (view !== null) this.deps.changesCommitted?.();
    if (view !== null) log.info({ hostId: session.hostId, epoch: session.epoch }, 'host disconnected');
  }

  private tick(): void {
    const now = performance.now();
    const { heartbeatIntervalMs, heartbeatDeadlineMs } = this.deps.config;
    for (const session of this.sessions.values()) {
      const silent = session.silentMs(now);
      if (silent >= heartbeatDeadlineMs) {
        session.log.warn(
          { silentMs: Math.round(silent) },
          'no message from the agent within the heartbeat deadline',
        );
        session.fail(
          'unavailable',
          `nothing received for ${Math.round(silent)} ms (deadline ${heartbeatDeadlineMs} ms)`,
        );
      } else if (now - session.lastSent >= heartbeatIntervalMs) {
        session.heartbeat();
      }
    }
  }

  private async flushLastSeen(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      const seen = [...this.sessions.values()]
        .filter((s) => s.epoch > 0 && !s.isEnded)
        .map((s) => ({ hostId: s.hostId, epoch: s.epoch, at: s.lastReceivedAt }));
      const matched = new Set(await touchLastSeen(this.deps.sql, seen));
      // A stream whose epoch no longer matches was replaced or its host deleted while a notice was lost.
      for (const s of seen) {
        if (matched.has(s.hostId)) continue;
        const session = this.sessions.get(s.hostId);
        if (session?.epoch === s.epoch) {
          void session.goodbye(
            GoodbyeReason.GOODBYE_REASON_REPLACED,
            'this stream no longer holds the host (replaced or deleted)',
          );
        }
      }
    } catch (err) {
      this.deps.log.warn({ err }, 'could not write last-seen times');
    } finally {
      this.flushing = false;
    }
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    const { sql, clock, log, config, commands } = this.deps;
    try {
      const now = clock.now();
      // Past the deadline, plus two flushes of the replica holding the stream: no false alarm.
      const before = new Date(now.getTime() - config.heartbeatDeadlineMs - 2 * FLUSH_MS);
      const local = new Set(this.sessions.keys());
      const gone = await sql.begin(async (tx) => {
        const views = await disconnectSilentHosts(tx, before, now, [...local]);
        await recordChanges(
          tx,
          now,
          views.map((v) => ({ kind: 'host' as const, entityId: v.id, op: 'upsert' as const, data: v })),
        );
        return views;
      });
      if (gone.length > 0) this.deps.changesCommitted?.();
      for (const host of gone) log.warn({ hostId: host.id }, 'host silent past its deadline: disconnected');
      await commands.expireOverdue();
    } catch (err) {
      log.warn({ err }, 'sweep failed; trying again');
    } finally {
      this.sweeping = false;
    }
  }

  private onCommandRouted(payload: string): void {
    const [hostId = '', commandId = ''] = payload.split(' ');
    const session = this.sessions.get(hostId.toLowerCase());
    if (session === undefined || session.epoch === 0) return;
    void this.deliver(session, commandId);
  }

  private async deliver(session: AgentSession, commandId: string): Promise<void> {
    try {
      const command = await this.deps.commands.claim(session.hostId, commandId);
      if (command !== null) session.sendCommand(command);
    } catch (err) {
      session.log.warn({ err, commandId }, 'could not claim a command; the next poll retries');
    }
  }

  private onStreamNotice(payload: string): void {
    const [hostId = '', epochText = ''] = payload.split(' ');
    const epoch = Number(epochText);
    const session = this.sessions.get(hostId.toLowerCase());
    if (session === undefined) return;
    if (epoch === -1) {
      void session.goodbye(
        GoodbyeReason.GOODBYE_REASON_REVOKED,
        'this host was deleted: its credential is revoked',
      );
    } else if (session.epoch !== 0 && session.epoch < epoch) {
      void session.goodbye(GoodbyeReason.GOODBYE_REASON_REPLACED, 'a newer stream of this host took over');
    }
  }

  /** Pending commands of hosts held here, in case a notification was lost. */
  private async pollPending(): Promise<void> {
    const hostIds = [...this.sessions.values()].filter((s) => s.epoch > 0).map((s) => s.hostId);
    try {
      for (const { id, host_id } of await pendingCommandIds(this.deps.sql, hostIds)) {
        const session = this.sessions.get(host_id);
        if (session !== undefined) await this.deliver(session, id);
      }
    } catch (err) {
      this.deps.log.warn({ err }, 'could not look for pending commands');
    }
  }
}

const driverName = (driver: Driver): HostDriver | undefined =>
  driver === Driver.DRIVER_LIBVIRT ? 'libvirt' : driver === Driver.DRIVER_SIMULATED ? 'simulated' : undefined;
