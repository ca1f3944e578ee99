import { median } from './latency-summary.ts';

/** One client configuration's runs, one entry per round (rounds interleave all configurations). */
export interface ThroughputRuns {
  /** Operations per second. */
  rates: number[];
  /** The client process's CPU time (user + system) per operation, µs. */
  cpuUsPerOp: number[];
  /** The daemon's CPU time per operation over the same run, µs. */
  daemonUsPerOp: number[];
}

/**
 * Round by round, `runs`' rate over `baseline`'s rate in the same round: the figure that load from
 * elsewhere on the machine moves least, as both sides of each ratio ran minutes apart at most. Its
 * median is what the bench reports. One baseline configuration, not the best of several per round:
 * the highest of two noisy runs is above a typical run, so a client exactly as fast as python's
 * 4 and 16 threads scored ~0.83 against their per-round best when runs spread by 2×.
 */
export function pairedRatios(runs: ThroughputRuns, baseline: ThroughputRuns): number[] {
  return runs.rates.map((rate, round) => rate / (baseline.rates[round] ?? Number.NaN));
}

/**
 * The configuration with the highest median rate ("python's best thread count"): the reference
 * every figure of a row is compared with, so that all of them compare one configuration with one.
 */
export function fastestByMedian<T extends ThroughputRuns>(rows: readonly T[]): T | undefined {
  let fastest: T | undefined;
  for (const r of rows) if (fastest === undefined || median(r.rates) > median(fastest.rates)) fastest = r;
  return fastest;
}

/**
 * Operations per CPU-second of client and daemon together, per run: the work the two processes
 * did for each operation, whatever share of the cores they got.
 */
export function opsPerCpuSecond(runs: ThroughputRuns): number[] {
  return runs.cpuUsPerOp.map((client, round) => 1e6 / (client + (runs.daemonUsPerOp[round] ?? 0)));
}

export const best = (values: readonly number[]): number => Math.max(...values);
