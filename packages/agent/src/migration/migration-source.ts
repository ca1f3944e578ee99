import type {
  MigrationCancel,
  MigrationForceComplete,
  MigrationOptions,
  MigrationPerform,
  MigrationProgress,
  MigrationRelease,
} from '@cockpit/proto';
import type { Logger } from 'pino';
import type { HypervisorDriver } from '../driver/driver.ts';
import { DriverError, isDriverError } from '../driver/driver-error.ts';
import {
  CANCELLED,
  COMPLETION_TIMEOUT,
  INTERRUPTED_CODE,
  INVALID_REQUEST,
  MIGRATION_COMPLETED,
  MIGRATION_IN_PROGRESS,
  type MigrationJob,
  NO_MIGRATION_RUNNING,
  POST_COPY_NOT_ALLOWED,
} from '../driver/migration-driver.ts';
import { migrationDriverOf, vmIdOf } from './migration-checks.ts';

export interface MigrationSourceOptions {
  driver: HypervisorDriver;
  log: Logger;
  /** How often a running migration reports its progress (default 1,000 ms). */
  progressIntervalMs?: number;
  /** How long a cancel waits for the aborted migration to end (default 30 s). */
  cancelWaitMs?: number;
}

export interface PerformContext {
  /** Each progress sample, for a RUNNING update. */
  progress: (progress: MigrationProgress) => void;
  /** The agent stops: reporting ends (the hypervisor's migration goes on without us). */
  signal?: AbortSignal;
  /** This host's images the storage copy copies away, before the hypervisor starts (for the record). */
  copying?: (images: string[]) => Promise<void>;
}

/** A migration this agent performs. */
interface Outgoing {
  migrationId: string;
  vmId: string;
  options: MigrationOptions;
  /** The job once the hypervisor runs it; undefined when the perform ended before that. */
  started: Promise<MigrationJob | undefined>;
  /** true when the migration completed, false when it failed. */
  outcome: Promise<boolean>;
  /** Why the agent aborted it, when it did. */
  stopReason?: typeof CANCELLED | typeof COMPLETION_TIMEOUT;
}

/**
 * The source side of a live migration: performs the peer-to-peer migration the coordinator asks for,
 * reports its progress about once a second, aborts it on cancel or when its completion timeout passes,
 * and switches it to post-copy on force-complete when the perform allowed it. One migration per VM.
 */
export class MigrationSource {
  private readonly outgoing = new Map<string, Outgoing>();
  private readonly intervalMs: number;

  constructor(private readonly options: MigrationSourceOptions) {
    this.intervalMs = options.progressIntervalMs ?? 1000;
  }

  /** Runs the migration; resolves with its final figures when it completed, rejects with a DriverError. */
  async perform(step: MigrationPerform, context: PerformContext): Promise<MigrationProgress | undefined> {
    const driver = migrationDriverOf(this.options.driver, step.migrationId);
    const vmId = vmIdOf(step.vmId);
    if (step.destinationConnectUri === '') {
      throw new DriverError(INVALID_REQUEST, 'the perform names no destination URI');
    }
    const options = step.options ?? defaultOptions;
    const busy = [...this.outgoing.values()].find(
      (o) => o.vmId === vmId || o.migrationId === key(step.migrationId),
    );
    if (busy !== undefined) {
      throw new DriverError(
        MIGRATION_IN_PROGRESS,
        `VM ${vmId} is already being migrated by this agent (migration ${busy.migrationId})`,
      );
    }
    let started: (job: MigrationJob | undefined) => void = () => undefined;
    let ended: (completed: boolean) => void = () => undefined;
    const outgoing: Outgoing = {
      migrationId: key(step.migrationId),
      vmId,
      options,
      started: new Promise((resolve) => {
        started = resolve;
      }),
      outcome: new Promise((resolve) => {
        ended = resolve;
      }),
    };
    this.outgoing.set(outgoing.migrationId, outgoing);
    const log = this.options.log.child({ migrationId: step.migrationId, vmId });
    let completed = false;
    try {
      const job = await driver.migrate({
        migrationId: step.migrationId,
        vmId,
        connectUri: step.destinationConnectUri,
        migrateUri: step.destinationMigrateUri,
        options,
        destinationCreatedImages: step.destinationCreatedImages,
        copying: context.copying,
      });
      // A cancel that came while the migration was starting aborts it now (it waits for this).
      started(job);
      const final = await this.follow(outgoing, job, context, log);
      completed = true;
      return final;
    } catch (err) {
      throw explain(outgoing, err);
    } finally {
      this.outgoing.delete(outgoing.migrationId);
      started(undefined);
      ended(completed);
    }
  }

  /**
   * A migration with a storage copy completed while this process was not following it (it restarted):
   * removes this host's images it copied away, `copiedImages` as the agent noted them at the perform.
   */
  async release(step: MigrationRelease, copiedImages: readonly string[]): Promise<void> {
    const log = this.options.log.child({ migrationId: step.migrationId });
    if (copiedImages.length === 0) {
      log.info('migration release: this agent noted no copied images for that perform');
      return;
    }
    const driver = migrationDriverOf(this.options.driver, step.migrationId);
    const removed = await driver.releaseOutgoing({
      migrationId: step.migrationId,
      vmId: vmIdOf(step.vmId),
      copiedImages,
    });
    log.info({ removed, noted: copiedImages }, 'migration release: removed the images the migration copied');
  }

  /** Aborts the migration; the VM stays here. Resolves once the migration ended without completing. */
  async cancel(step: MigrationCancel): Promise<void> {
    const outgoing = this.outgoing.get(key(step.migrationId));
    let completed: boolean | undefined;
    if (outgoing === undefined) {
      // Started before an agent restart: how libvirt's job ended says whether the abort took effect.
      const job = await this.untracked(step.migrationId, step.vmId);
      await job.abort();
      completed = await within(
        job.finished.then(
          () => true,
          () => false,
        ),
        this.cancelWaitMs,
      );
    } else {
      outgoing.stopReason ??= CANCELLED;
      const job = await outgoing.started;
      if (job !== undefined) await this.stop(outgoing, job, this.options.log, true);
      completed = await within(outgoing.outcome, this.cancelWaitMs);
    }
    if (completed === true) {
      throw new DriverError(MIGRATION_COMPLETED, 'the migration completed before the cancel took effect');
    }
  }

  /** Switches the migration to post-copy, when its perform allowed it. */
  async forceComplete(step: MigrationForceComplete): Promise<void> {
    const outgoing = this.outgoing.get(key(step.migrationId));
    if (outgoing === undefined) {
      // Started before an agent restart: libvirt knows whether post-copy was enabled, and says so.
      await (await this.untracked(step.migrationId, step.vmId)).startPostCopy();
      return;
    }
    if (!outgoing.options.allowPostCopy) {
      throw new DriverError(
        POST_COPY_NOT_ALLOWED,
        `migration ${step.migrationId} was not started with allow_post_copy: it cannot switch to post-copy`,
      );
    }
    const job = await outgoing.started;
    if (job === undefined) throw new DriverError(NO_MIGRATION_RUNNING, 'the migration is over');
    await job.startPostCopy();
    this.options.log.info({ migrationId: step.migrationId }, 'migration switched to post-copy');
  }

  private get cancelWaitMs(): number {
    return this.options.cancelWaitMs ?? 30_000;
  }

  /** Samples progress about once per interval and arms the completion timeout until the job ends. */
  private async follow(
    outgoing: Outgoing,
    job: MigrationJob,
    context: PerformContext,
    log: Logger,
  ): Promise<MigrationProgress | undefined> {
    let last: MigrationProgress | undefined;
    let sampling = false;
    // Set when the job ended: a sample still in flight then reports nothing after the final update.
    let over = false;
    const sample = async () => {
      if (sampling) return;
      sampling = true;
      try {
        const progress = await job.progress();
        if (progress !== undefined && !over && !context.signal?.aborted) {
          last = progress;
          context.progress(progress);
        }
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'could not sample the migration job');
      } finally {
        sampling = false;
      }
    };
    const sampler = setInterval(() => void sample(), this.intervalMs);
    const timeoutS = outgoing.options.completionTimeoutS;
    const timeout =
      timeoutS > 0
        ? setTimeout(() => {
            outgoing.stopReason ??= COMPLETION_TIMEOUT;
            log.warn({ completionTimeoutS: timeoutS }, 'migration past its completion timeout: aborting it');
            void this.stop(outgoing, job, log);
          }, timeoutS * 1000)
        : undefined;
    try {
      const final = await untilAborted(job.finished, context.signal);
      return final ?? last;
    } finally {
      over = true;
      clearInterval(sampler);
      clearTimeout(timeout);
    }
  }

  /** Aborts the job for `outgoing.stopReason`; if the hypervisor refuses, the migration goes on. */
  private async stop(outgoing: Outgoing, job: MigrationJob, log: Logger, rethrow = false): Promise<void> {
    try {
      await job.abort();
    } catch (err) {
      log.warn(
        { err: (err as Error).message, why: outgoing.stopReason },
        'the migration could not be aborted',
      );
      outgoing.stopReason = undefined;
      if (rethrow) throw err;
    }
  }

  private async untracked(migrationId: string, vmId: string): Promise<MigrationJob> {
    // A step for a migration this process does not follow acts on libvirt's job by VM id (one started
    // before an agent restart), unless this process follows another migration of the VM: then the step
    // is stale (an earlier migration's), and the job is not its to stop.
    const current = [...this.outgoing.values()].find((o) => o.vmId === vmIdOf(vmId));
    if (current !== undefined) {
      throw new DriverError(
        NO_MIGRATION_RUNNING,
        `migration ${migrationId} of VM ${vmId} does not run on this host (its migration now is ${current.migrationId})`,
      );
    }
    const driver = migrationDriverOf(this.options.driver, migrationId);
    const job = await driver.runningJob(vmIdOf(vmId));
    if (job === undefined) {
      throw new DriverError(NO_MIGRATION_RUNNING, `no migration of VM ${vmId} runs on this host`);
    }
    return job;
  }
}

const defaultOptions: MigrationOptions = {
  live: true,
  persistent: false,
  undefineSource: false,
  copyStorage: 0,
  bandwidthMibps: 0,
  maxDowntimeMs: 0,
  autoConverge: false,
  compression: false,
  allowPostCopy: false,
  completionTimeoutS: 0,
};

/** Migration ids are UUIDs: compared as values, whatever their case. */
const key = (id: string) => id.toLowerCase();

/** A failure in the words the controller receives: why the agent aborted it, then the hypervisor's. */
function explain(outgoing: Outgoing, err: unknown): unknown {
  if (!isDriverError(err) || outgoing.stopReason === undefined) return err;
  const why =
    outgoing.stopReason === CANCELLED
      ? 'the migration was cancelled'
      : `the migration did not complete within ${outgoing.options.completionTimeoutS} s and was aborted`;
  return new DriverError(outgoing.stopReason, `${why}: ${err.message}`, { cause: err });
}

/** `promise`, or undefined once `ms` passed. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `promise`, or a rejection once `signal` aborts (the agent stops; the outcome is left unrecorded). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DriverError(INTERRUPTED_CODE, 'the agent is stopping'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
