import { describe, expect, it } from 'vitest';
import { opsPerCpuSecond, pairedRatios, type ThroughputRuns } from './throughput-figures.ts';

const runs = (rates: number[], cpuUsPerOp: number[] = [], daemonUsPerOp: number[] = []): ThroughputRuns => ({
  rates,
  cpuUsPerOp,
  daemonUsPerOp,
});

describe('pairedRatios', () => {
  it('divides each round by the best baseline of that same round', () => {
    const ours = runs([100, 300, 50]);
    const seq = runs([50, 100, 100]);
    const threads = runs([200, 150, 25]);
    expect(pairedRatios(ours, [seq, threads])).toEqual([0.5, 2, 0.5]);
  });

  it('compares with one baseline alone', () => {
    expect(pairedRatios(runs([30, 60]), [runs([60, 30])])).toEqual([0.5, 2]);
  });
});

describe('opsPerCpuSecond', () => {
  it('counts the client and the daemon CPU of each run', () => {
    expect(opsPerCpuSecond(runs([1, 1], [100, 300], [400, 200]))).toEqual([2000, 2000]);
  });
});
