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
 * Round by round, `runs`' rate over the best rate among `baselines` in the same round: the figure
 * that load from elsewhere on the machine moves least, as both sides of each ratio ran minutes
 * apart at most. Its median is what the bench reports.
 */
export function pairedRatios(runs: ThroughputRuns, baselines: readonly ThroughputRuns[]): number[] {
  return runs.rates.map((rate, round) => rate / Math.max(...baselines.map((b) => b.rates[round] ?? 0)));
}

/**
 * Operations per CPU-second of client and daemon together, per run: the work the two processes
 * did for each operation, whatever share of the cores they got.
 */
export function opsPerCpuSecond(runs: ThroughputRuns): number[] {
  return runs.cpuUsPerOp.map((client, round) => 1e6 / (client + (runs.daemonUsPerOp[round] ?? 0)));
}

export const best = (values: readonly number[]): number => Math.max(...values);
