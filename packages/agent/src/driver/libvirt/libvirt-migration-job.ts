import {
  type Domain,
  isNoDomain,
  isOperationInvalid,
  type JobStats,
  type LibvirtConnection,
  type TypedParamRecord,
  toRemoteDomain,
  VIR_DOMAIN_JOB_CANCELLED,
  VIR_DOMAIN_JOB_COMPLETED,
  VIR_DOMAIN_JOB_ERRMSG,
  VIR_DOMAIN_JOB_NONE,
  VIR_DOMAIN_JOB_STATS_COMPLETED,
  VIR_DOMAIN_PAUSED,
  VIR_DOMAIN_PAUSED_POSTCOPY,
} from '@cockpit/libvirt';
import type { MigrationProgress } from '@cockpit/proto';
import type { Logger } from 'pino';
import { sleep } from '../../connection/backoff.ts';
import { DriverError, isDriverError } from '../driver-error.ts';
import { INTERRUPTED_CODE, type MigrationJob, NO_MIGRATION_RUNNING } from '../migration-driver.ts';
import { progressOf } from './job-progress.ts';
import { isConnectionLost, toDriverError } from './libvirt-errors.ts';
import type { MigrationPlan } from './migration-plan.ts';

const QUERY = { timeoutMs: 10_000 };
/** How long abort and post-copy wait for a job that has not begun yet (the first instants of a perform). */
const JOB_START_WAIT_MS = 10_000;
/** How long a finished perform waits for the job-completed event that carries the final figures. */
const FINAL_STATS_WAIT_MS = 2_000;

/**
 * One outgoing migration on a connection of its own: the perform call holds one of libvirtd's five
 * request slots per client for as long as the migration runs, and the samples, abort and post-copy
 * calls need others, whatever the driver's main connection is busy with. The connection is closed
 * when the job settles.
 */
export class LibvirtMigrationJob implements MigrationJob {
  readonly finished: Promise<MigrationProgress | undefined>;
  private settled = false;
  private postCopy = false;
  private downtimeMs: number;

  private constructor(
    private readonly conn: LibvirtConnection,
    private readonly dom: Domain,
    private readonly log: Logger,
    maxDowntimeMs: number,
    run: (job: LibvirtMigrationJob) => Promise<MigrationProgress | undefined>,
  ) {
    this.downtimeMs = maxDowntimeMs;
    this.finished = (async () => {
      try {
        return await run(this);
      } finally {
        this.settled = true;
        await conn.close();
      }
    })();
    // Awaited by whoever drives the job; this keeps a rejection nobody awaits from going unhandled.
    this.finished.catch(() => undefined);
  }

  /**
   * Starts a peer-to-peer migration of `dom` to `destUri` on `conn`. `completed` runs once libvirt says
   * the migration completed, before `finished` resolves (it must not throw).
   */
  static async start(
    conn: LibvirtConnection,
    dom: Domain,
    destUri: string,
    plan: MigrationPlan,
    maxDowntimeMs: number,
    log: Logger,
    completed: () => Promise<void> = async () => undefined,
  ): Promise<LibvirtMigrationJob> {
    // Subscribed before the perform so the final figures (the job-completed event) cannot be missed.
    const stop = new AbortController();
    const events = await conn.domains.events({ domain: dom, kinds: ['jobCompleted'], signal: stop.signal });
    const finalStats = (async (): Promise<TypedParamRecord | undefined> => {
      try {
        for await (const event of events) if (event.kind === 'jobCompleted') return event.stats;
      } catch {
        // the connection closed: no final figures from the event
      }
      return undefined;
    })();
    return new LibvirtMigrationJob(conn, dom, log, maxDowntimeMs, async (job) => {
      try {
        await conn.migration.toUri(dom, destUri, plan.params, plan.flags, { timeoutMs: 0 });
        const [stats] = await Promise.all([
          Promise.race([finalStats, sleep(FINAL_STATS_WAIT_MS, stop.signal).then(() => undefined)]),
          completed(),
        ]);
        return stats === undefined ? undefined : progressOf(stats, job.postCopy);
      } catch (err) {
        // Our connection to libvirtd went away, not the migration: libvirtd goes on with a peer-to-peer
        // job its client left (or settles it when it restarts). Its outcome is unknown here; the
        // journals of both hosts tell the controller how it ended.
        if (isConnectionLost(err)) {
          throw new DriverError(
            INTERRUPTED_CODE,
            `the agent lost its connection to libvirtd during the migration (${(err as Error).message}); libvirt may still be running it`,
            { cause: err },
          );
        }
        throw toDriverError(err);
      } finally {
        stop.abort();
      }
    });
  }

  /**
   * The outgoing migration libvirt runs for `dom` that no perform of this process started (the agent
   * restarted meanwhile): `finished` follows it by sampling until the job is over.
   */
  static adopt(conn: LibvirtConnection, dom: Domain, log: Logger): LibvirtMigrationJob {
    return new LibvirtMigrationJob(conn, dom, log, 0, async (job) => {
      try {
        while ((await conn.jobs.getStats(dom, 0, QUERY)).type !== VIR_DOMAIN_JOB_NONE) await sleep(500);
        const done = await conn.jobs.getStats(dom, VIR_DOMAIN_JOB_STATS_COMPLETED, QUERY);
        if (done.type === VIR_DOMAIN_JOB_COMPLETED) return progressOf(done.stats, job.postCopy);
        const errmsg = done.stats[VIR_DOMAIN_JOB_ERRMSG];
        const why = typeof errmsg === 'string' ? errmsg : 'the migration did not complete';
        throw new DriverError(
          done.type === VIR_DOMAIN_JOB_CANCELLED ? 'OPERATION_ABORTED' : 'OPERATION_FAILED',
          why,
        );
      } catch (err) {
        // Migrated away and undefined: the migration completed.
        if (isNoDomain(err)) return undefined;
        throw isDriverError(err) ? err : toDriverError(err);
      }
    });
  }

  async progress(): Promise<MigrationProgress | undefined> {
    if (this.settled) return undefined;
    try {
      const [job, state] = await Promise.all([
        this.conn.jobs.getStats(this.dom, 0, QUERY),
        this.conn.domains.getState(this.dom, QUERY),
      ]);
      if (job.type === VIR_DOMAIN_JOB_NONE) return undefined;
      // Whoever switched it (MigrationForceComplete, or virsh migrate-postcopy), the source says so.
      if (state.state === VIR_DOMAIN_PAUSED && state.reason === VIR_DOMAIN_PAUSED_POSTCOPY)
        this.postCopy = true;
      await this.applyMaxDowntime();
      return progressOf(job.stats, this.postCopy);
    } catch (err) {
      if (this.settled || isNoDomain(err)) return undefined;
      throw toDriverError(err);
    }
  }

  async abort(): Promise<void> {
    const deadline = Date.now() + JOB_START_WAIT_MS;
    for (;;) {
      if (this.settled) return;
      try {
        await this.conn.jobs.abort(this.dom, QUERY);
        return;
      } catch (err) {
        if (this.settled) return;
        // "no job is active" in the instant before the perform's job begins: try again. Any other refusal
        // (a migration in post-copy cannot be aborted) stands.
        if (!isOperationInvalid(err) || Date.now() > deadline || (await this.activeJob()) !== undefined) {
          throw toDriverError(err);
        }
        await sleep(100);
      }
    }
  }

  async startPostCopy(): Promise<void> {
    // QEMU takes the switch only once its memory migration runs: earlier (libvirt's job in its begin and
    // prepare phases, or copying disks first) it refuses ("Postcopy must be started after migration has
    // been started"), or takes it and drops it when the migration starts. So wait for memory to move,
    // as long as the job runs; a job that never starts is left for libvirt to refuse.
    const deadline = Date.now() + JOB_START_WAIT_MS;
    for (;;) {
      if (this.settled) throw new DriverError(NO_MIGRATION_RUNNING, 'the migration is over');
      const job = await this.activeJob();
      if (job !== undefined && progressOf(job.stats, false).memoryProcessed > 0) break;
      if (job === undefined && Date.now() > deadline) break;
      await sleep(100);
    }
    try {
      await this.conn.remote.domainMigrateStartPostCopy({ dom: toRemoteDomain(this.dom), flags: 0 }, QUERY);
      this.postCopy = true;
    } catch (err) {
      throw toDriverError(err);
    }
  }

  /** libvirt's job on the domain, while one runs (its statistics). */
  private async activeJob(): Promise<JobStats | undefined> {
    if (this.settled) return undefined;
    const job = await this.conn.jobs.getStats(this.dom, 0, QUERY).catch(() => undefined);
    return job !== undefined && job.type !== VIR_DOMAIN_JOB_NONE ? job : undefined;
  }

  /**
   * libvirt takes the downtime limit while the job runs (virDomainMigrateSetMaxDowntime): it is set at
   * the first sample that finds the job running. A migration that completes before that converged
   * within libvirt's default.
   */
  private async applyMaxDowntime(): Promise<void> {
    if (this.downtimeMs <= 0) return;
    const ms = this.downtimeMs;
    this.downtimeMs = 0;
    await this.conn.migration.setMaxDowntime(this.dom, ms, QUERY).catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message, maxDowntimeMs: ms }, 'could not set the maximum downtime');
    });
  }
}
