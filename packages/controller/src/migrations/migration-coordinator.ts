import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { findCommands } from '../commands/command-queries.ts';
import type { CommandService } from '../commands/command-service.ts';
import type { Sql } from '../database/sql.ts';
import type { Notifier } from '../notifier/notifier.ts';
import {
  claimLease,
  lockHeld,
  orphanedMigrationIds,
  releaseLeases,
  renewLeases,
} from './migration-queries.ts';
import { type StepResult, stepMigration } from './migration-steps.ts';

/** How long a coordinator's lease lasts unless renewed; renewed at a third of it. */
export const DEFAULT_MIGRATION_LEASE_MS = 15_000;

export interface MigrationCoordinatorDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
  notifier: Notifier;
  commands: CommandService;
  /** Names this replica in migrations.coordinator (the agent hub's replica name). */
  replica: string;
  leaseMs?: number;
  /**
   * After a step's commit that changed something (a completed migration moved its VM): this replica's
   * VM cache catches up before its next read, instead of answering until the change log's notification.
   */
  changesCommitted?: () => void;
}

/** What one step call found: it acted (or had nothing to do yet), or another replica holds the lease. */
export type StepOutcome = 'stepped' | 'idle' | 'lost';

/**
 * Drives migrations: exactly one replica at a time per migration, by a lease with an epoch in its row.
 * A replica takes the lease of a migration nobody holds when told of it (the notifier's `migrations`
 * topic: a new migration, an agent's update on one of its commands, the destination reporting the VM)
 * or when its periodic pass finds one whose lease expired (its replica died); each step locks the row
 * and checks the epoch, so a replica that lost the lease cannot act. Steps read where things stand
 * (command outcomes, the destination's report), so the one that takes over settles from there.
 */
export class MigrationCoordinator {
  private readonly leaseMs: number;
  /** Migrations this replica holds: id → lease epoch. */
  private readonly held = new Map<string, number>();
  /** Steps in flight per migration (one at a time), and whether another was asked for meanwhile. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: Array<() => void> = [];
  private passing: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly deps: MigrationCoordinatorDeps) {
    this.leaseMs = deps.leaseMs ?? DEFAULT_MIGRATION_LEASE_MS;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const { notifier } = this.deps;
    this.unsubscribe = [
      notifier.subscribe('migrations', (id) => this.wake(id.toLowerCase())),
      notifier.onResync(() => this.pass()),
    ];
    this.timer = setInterval(() => this.pass(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  /**
   * Stops driving. `release` (a clean stop) gives the leases up so another replica takes over at once;
   * without it they run out as if this process had died.
   */
  async stop(options: { release: boolean } = { release: true }): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    for (const off of this.unsubscribe) off();
    await this.passing;
    await Promise.allSettled([...this.inFlight.values()]);
    if (options.release) {
      await releaseLeases(this.deps.sql, { replica: this.deps.replica, now: this.deps.clock.now() }).catch(
        (err: unknown) => this.deps.log.warn({ err }, 'could not release migration leases'),
      );
    }
    this.held.clear();
  }

  /** Migrations this replica drives now. */
  get driving(): string[] {
    return [...this.held.keys()];
  }

  /** Something happened to a migration: take it if nobody holds it, and step it. */
  wake(id: string): void {
    if (this.stopped) return;
    if (this.inFlight.has(id)) {
      this.again.add(id);
      return;
    }
    const run = this.drive(id).finally(() => {
      this.inFlight.delete(id);
      if (this.again.delete(id)) this.wake(id);
    });
    this.inFlight.set(id, run);
  }

  /** Steps a migration now and waits until those steps (and any asked for meanwhile) are done. */
  async settle(id: string): Promise<void> {
    this.wake(id);
    for (let running = this.inFlight.get(id); running !== undefined; running = this.inFlight.get(id)) {
      await running;
    }
  }

  private async drive(id: string): Promise<void> {
    try {
      let epoch = this.held.get(id);
      if (epoch === undefined) {
        const claimed = await claimLease(this.deps.sql, {
          id,
          replica: this.deps.replica,
          now: this.deps.clock.now(),
          leaseMs: this.leaseMs,
        });
        if (claimed === null) return;
        epoch = claimed;
        this.held.set(id, epoch);
        this.deps.log.info({ migrationId: id, epoch }, 'coordinating a migration');
      }
      // Step until nothing more can happen without news from an agent.
      for (let i = 0; i < 8 && !this.stopped; i++) {
        const outcome = await this.step(id, epoch);
        if (outcome !== 'stepped') return;
      }
    } catch (err) {
      this.deps.log.warn({ err, migrationId: id }, 'migration step failed; the next pass tries again');
    }
  }

  /** One step at `epoch`: 'lost' when another replica holds the migration now (nothing written). */
  async step(id: string, epoch: number): Promise<StepOutcome> {
    const { sql, clock, commands, replica } = this.deps;
    const now = clock.now();
    const result = await sql.begin(async (tx): Promise<StepResult | 'lost' | 'final'> => {
      const row = await lockHeld(tx, { id, replica, epoch });
      if (row === null) return 'lost';
      if (row.status === 'completed' || row.status === 'failed' || row.status === 'cancelled') return 'final';
      const outcomes = await findCommands(
        tx,
        [row.prepare_command_id, row.perform_command_id, row.cancel_command_id].filter(
          (c): c is string => c !== null,
        ),
      );
      return stepMigration(tx, row, {
        commands,
        commandOf: (commandId) => (commandId === null ? undefined : outcomes.get(commandId)),
        now,
      });
    });
    if (result === 'lost' || result === 'final') {
      if (result === 'lost' && this.held.get(id) === epoch) {
        this.deps.log.info({ migrationId: id, epoch }, 'another replica took this migration over');
      }
      if (this.held.get(id) === epoch) this.held.delete(id);
      return result === 'lost' ? 'lost' : 'idle';
    }
    if (result.changed) this.deps.changesCommitted?.();
    for (const { hostId, commandId } of result.routes) await commands.route(hostId, commandId);
    if (result.changed) {
      await this.deps.notifier
        .publish('operations', id)
        .catch((err: unknown) => this.deps.log.warn({ err }, 'notify failed'));
    }
    return result.changed ? 'stepped' : 'idle';
  }

  /** The periodic pass: renew what is held, take over what nobody holds, step everything held. */
  private pass(): void {
    if (this.stopped || this.passing !== undefined) return;
    this.passing = (async () => {
      const { sql, clock, replica, log } = this.deps;
      try {
        const now = clock.now();
        const held = [...this.held].map(([id, epoch]) => ({ id, epoch }));
        const kept = new Set(await renewLeases(sql, { held, replica, now, leaseMs: this.leaseMs }));
        for (const { id } of held) if (!kept.has(id)) this.held.delete(id);
        for (const id of await orphanedMigrationIds(sql, now)) this.wake(id);
        for (const id of kept) this.wake(id);
      } catch (err) {
        log.warn({ err }, 'migration pass failed; trying again');
      } finally {
        this.passing = undefined;
      }
    })();
  }
}
