import type { MigrationOptions, MigrationProgress } from '@cockpit/proto';
import { DriverError } from '../driver-error.ts';
import type { MigrationJob } from '../migration-driver.ts';
import type { SharedTicker } from './shared-ticker.ts';

const MIB = 1024 * 1024;
/** Share of guest memory a running guest dirties per second. */
const DIRTY_SHARE_PER_S = 0.05;
/** libvirt's default maximum downtime. */
const DEFAULT_MAX_DOWNTIME_MS = 300;
const INVALID = 'OPERATION_INVALID';

export interface SimJobOptions {
  memoryMib: number;
  options: MigrationOptions;
  /** Link speed without a bandwidth limit. */
  bytesPerSecond: number;
  ticker: SharedTicker;
  /** Post-copy started: the VM runs on the destination from now on. */
  onPostCopy: () => void;
  /** The last pass is sent: the destination takes the VM over; rejects when it is gone. */
  finish: () => Promise<void>;
  /** Aborted: the destination drops the incoming domain; resolves once it has (or is gone). */
  cancel: () => Promise<void>;
  /** Settled: `error` undefined when the migration completed. */
  onEnd: (error: DriverError | undefined) => void;
}

/**
 * copying: passes over memory; finishing: the destination takes the VM over; aborting: it drops it;
 * done: settled (or disposed).
 */
type Phase = 'copying' | 'finishing' | 'aborting' | 'done';

const lost = () =>
  new DriverError('OPERATION_FAILED', "operation failed: job 'migration out' unexpectedly failed");

/**
 * A pre-copy migration as QEMU runs one, in memory: the first pass copies all guest memory, each later
 * pass what the guest dirtied meanwhile (auto-converge throttles the guest, compression makes dirty
 * pages cheaper to send), until a pass fits in the maximum downtime and the VM switches over. Post-copy
 * switches over at once and pulls the rest. Advances on the shared ticker; the destination is told
 * through the callbacks (sim-migration.ts carries them over the wire).
 */
export class SimMigrationJob implements MigrationJob {
  readonly finished: Promise<MigrationProgress | undefined>;
  private resolve: (progress: MigrationProgress | undefined) => void = () => undefined;
  private reject: (err: DriverError) => void = () => undefined;
  private readonly total: number;
  private readonly rate: number;
  private readonly startedAt = Date.now();
  private lastTick = Date.now();
  private pass: number;
  private passSent = 0;
  private sent = 0;
  private iteration = 1;
  private throttle = 1;
  private postCopy = false;
  private downtimeMs = 0;
  private phase: Phase = 'copying';
  private readonly stopTicking: () => void;

  constructor(private readonly o: SimJobOptions) {
    this.finished = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.finished.catch(() => undefined);
    this.total = o.memoryMib * MIB;
    const limit = o.options.bandwidthMibps > 0 ? o.options.bandwidthMibps * MIB : Number.POSITIVE_INFINITY;
    this.rate = Math.min(o.bytesPerSecond, limit);
    this.pass = this.total;
    this.stopTicking = o.ticker.add((now) => this.tick(now));
  }

  async progress(): Promise<MigrationProgress | undefined> {
    return this.phase === 'done' ? undefined : this.figures();
  }

  async abort(): Promise<void> {
    if (this.phase === 'done' || this.phase === 'aborting')
      throw new DriverError(INVALID, 'Requested operation is not valid: no job is active on the domain');
    // libvirt refuses too once the source has handed the VM over (its perform phase is done).
    if (this.postCopy || this.phase === 'finishing') {
      throw new DriverError(
        INVALID,
        'Requested operation is not valid: cannot abort migration in post-copy mode',
      );
    }
    this.phase = 'aborting';
    this.stopTicking();
    await this.o.cancel();
    this.fail(new DriverError('OPERATION_ABORTED', 'operation aborted: migration out: canceled by client'));
  }

  async startPostCopy(): Promise<void> {
    if (this.phase !== 'copying') {
      throw new DriverError(
        INVALID,
        'Requested operation is not valid: post-copy can only be started while outgoing migration is in progress',
      );
    }
    if (!this.o.options.allowPostCopy) {
      throw new DriverError(
        INVALID,
        'Requested operation is not valid: switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag',
      );
    }
    if (this.postCopy) return;
    this.postCopy = true;
    // The guest stops on the source for the switch-over and runs on the destination from then on.
    this.downtimeMs = 20 + Math.round(Math.random() * 30);
    this.o.onPostCopy();
  }

  /** The destination went away (its host closed) while memory was being copied. */
  lostDestination(): void {
    if (this.phase === 'copying') this.fail(lost());
  }

  /** The source host closed: the job ends without an outcome. */
  dispose(): void {
    this.phase = 'done';
    this.stopTicking();
  }

  private tick(now: number): void {
    if (this.phase !== 'copying') return;
    const seconds = (now - this.lastTick) / 1000;
    this.lastTick = now;
    // Post-copy pulls the rest at link speed: libvirt's bandwidth limit is for pre-copy.
    const speed = this.postCopy
      ? this.o.bytesPerSecond
      : this.iteration > 1 && this.o.options.compression
        ? this.rate * 1.5
        : this.rate;
    const step = Math.min(this.pass - this.passSent, speed * seconds);
    this.passSent += step;
    this.sent += step;
    if (this.passSent < this.pass) return;
    if (this.postCopy) {
      this.handOver();
      return;
    }
    const passSeconds = this.pass / speed;
    const next = Math.min(this.total, this.total * DIRTY_SHARE_PER_S * this.throttle * passSeconds);
    const maxDowntime = this.o.options.maxDowntimeMs || DEFAULT_MAX_DOWNTIME_MS;
    if ((next / speed) * 1000 <= maxDowntime) {
      this.downtimeMs = Math.max(1, Math.round((next / speed) * 1000));
      this.sent += next;
      this.handOver();
      return;
    }
    if (this.o.options.autoConverge) this.throttle = Math.max(0.01, this.throttle * 0.6);
    this.iteration += 1;
    this.pass = next;
    this.passSent = 0;
  }

  private figures(): MigrationProgress {
    const remaining = Math.max(0, Math.round(this.pass - this.passSent));
    const processed = Math.round(this.sent);
    return {
      dataTotal: processed + remaining,
      dataProcessed: processed,
      dataRemaining: remaining,
      memoryTotal: this.total,
      memoryProcessed: processed,
      memoryRemaining: remaining,
      memoryBps: Number.isFinite(this.rate) ? Math.round(this.rate) : 0,
      elapsedMs: Date.now() - this.startedAt,
      downtimeMs: this.downtimeMs,
      iteration: this.iteration,
      postCopy: this.postCopy,
    };
  }

  /** Everything is sent: the destination takes the VM over, or the migration fails if it cannot. */
  private handOver(): void {
    this.phase = 'finishing';
    this.stopTicking();
    const final = { ...this.figures(), dataRemaining: 0, memoryRemaining: 0 };
    this.o.finish().then(
      () => {
        if (this.phase !== 'finishing') return;
        this.phase = 'done';
        this.o.onEnd(undefined);
        this.resolve(final);
      },
      () => {
        if (this.phase === 'finishing') this.fail(lost());
      },
    );
  }

  private fail(err: DriverError): void {
    this.phase = 'done';
    this.stopTicking();
    this.o.onEnd(err);
    this.reject(err);
  }
}
