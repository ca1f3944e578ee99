import type { HostSample, VmSample } from '@cockpit/proto';
import type { Logger } from 'pino';
import type { CounterSource } from './counters.ts';
import { RateTracker } from './rate-tracker.ts';
import { maxGapFor } from './rates.ts';
import type { SampleBuffer } from './sample-buffer.ts';

export const MIN_PERIOD_MS = 1_000;
export const MAX_PERIOD_MS = 3_600_000;

export interface SamplerOptions {
  source: CounterSource;
  buffer: SampleBuffer;
  /** The period until the controller sets one (Welcome.metrics_interval_ms), ms. */
  periodMs: number;
  log: Logger;
  /** Wall clock, unix ms (slots). */
  now?: () => number;
}

/** The newest samples, for the agent's own /metrics. */
export interface LatestSamples {
  host: HostSample | undefined;
  vms: VmSample[];
  /** VM names, in the order of `vms`. */
  names: string[];
}

/**
 * Reads the driver's counters once per period, at whole multiples of it on the wall clock (10 s:
 * ...:00, ...:10, ...; no drift, no jitter), turns them into samples (RateTracker) labelled with that
 * slot, and appends them to the buffer. One timer per agent; a reading never overlaps the previous one (a
 * slot that passes while a reading is still running is skipped, and so is a slot whose timer fired more
 * than half a period late). Keeps sampling while the agent is disconnected: the buffer keeps what it can.
 */
export class Sampler {
  private readonly tracker = new RateTracker();
  private readonly now: () => number;
  private period: number;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private lastSlot = 0;
  private lastReadAt: number | undefined;
  private failingSince: number | undefined;
  private failedReadings = 0;
  latest: LatestSamples = { host: undefined, vms: [], names: [] };
  /** Since the start: readings, failed readings, slots skipped (late timer, slow reading), the last duration. */
  readonly stats = { readings: 0, failures: 0, skipped: 0, lastDurationMs: 0 };

  constructor(private readonly options: SamplerOptions) {
    this.now = options.now ?? Date.now;
    this.period = clampPeriod(options.periodMs);
  }

  get periodMs(): number {
    return this.period;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Sets the period (the controller's; 0: back to the configured one), clamped to 1 s .. 1 h. */
  setPeriod(periodMs: number): void {
    const next = clampPeriod(periodMs === 0 ? this.options.periodMs : periodMs);
    if (next !== periodMs && periodMs !== 0) {
      this.options.log.warn({ asked: periodMs, using: next }, 'metrics interval out of range: clamped');
    }
    if (next === this.period) return;
    this.options.log.info({ periodMs: next }, 'metrics sampling period');
    this.period = next;
    this.interrupt();
  }

  async close(): Promise<void> {
    this.stop.abort();
    this.interrupt();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      const period = this.period;
      const slot = this.nextSlot();
      const reached = await this.sleepUntil(slot);
      if (signal.aborted) break;
      // The period changed while waiting: align to the new one.
      if (!reached || period !== this.period) continue;
      this.lastSlot = slot;
      // A timer that fires more than half a period late (a blocked event loop) skips its slot rather than
      // label a reading with a time it was not taken at.
      if (this.now() - slot > period / 2) {
        this.stats.skipped++;
        continue;
      }
      await this.collect(slot);
    }
  }

  /**
   * The next multiple of the period after now and after the last slot, at least half a period after the
   * last reading (a new period's first slot does not come right after the old period's last reading).
   * Slots of this period passed over (a reading that took longer than the period) count as skipped.
   */
  private nextSlot(): number {
    const p = this.period;
    let slot = Math.max(Math.floor(this.now() / p) + 1, Math.floor(this.lastSlot / p) + 1) * p;
    if (this.lastReadAt !== undefined) while (slot - this.lastReadAt < p / 2) slot += p;
    if (this.lastSlot > 0 && this.lastSlot % p === 0) this.stats.skipped += (slot - this.lastSlot) / p - 1;
    return slot;
  }

  /** Resolves true at `slot`, false when interrupted (period change, close). */
  private sleepUntil(slot: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.wake = () => {
        clearTimeout(this.timer);
        this.wake = undefined;
        resolve(false);
      };
      this.timer = setTimeout(
        () => {
          this.wake = undefined;
          resolve(true);
        },
        Math.max(0, slot - this.now()),
      );
      this.timer.unref();
    });
  }

  private interrupt(): void {
    this.wake?.();
  }

  private async collect(slot: number): Promise<void> {
    const started = performance.now();
    try {
      const reading = await this.options.source.readCounters(this.stop.signal);
      this.stats.lastDurationMs = performance.now() - started;
      this.stats.readings++;
      const { host, vms } = this.tracker.sample(reading, slot, maxGapFor(this.period));
      this.options.buffer.push(host, vms);
      this.latest = { host, vms, names: reading.vms.map((v) => v.name) };
      this.recovered();
    } catch (err) {
      if (this.stop.signal.aborted) return;
      this.stats.failures++;
      this.failed(err);
    } finally {
      this.lastReadAt = this.now();
    }
  }

  private failed(err: unknown): void {
    this.failedReadings++;
    if (this.failingSince !== undefined) return;
    this.failingSince = this.now();
    this.options.log.warn(
      { err: (err as Error).message },
      'cannot read performance counters: no samples until the hypervisor answers again',
    );
  }

  private recovered(): void {
    if (this.failingSince === undefined) return;
    this.options.log.info(
      { failedReadings: this.failedReadings, failingForMs: this.now() - this.failingSince },
      'performance counters readable again',
    );
    this.failingSince = undefined;
    this.failedReadings = 0;
  }
}

export const clampPeriod = (ms: number): number =>
  Math.min(MAX_PERIOD_MS, Math.max(MIN_PERIOD_MS, Math.round(ms)));
