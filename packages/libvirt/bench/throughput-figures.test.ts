import { describe, expect, it } from 'vitest';
import { fastestByMedian, opsPerCpuSecond, pairedRatios, type ThroughputRuns } from './throughput-figures.ts';

const runs = (rates: number[], cpuUsPerOp: number[] = [], daemonUsPerOp: number[] = []): ThroughputRuns => ({
  rates,
  cpuUsPerOp,
  daemonUsPerOp,
});

describe('pairedRatios', () => {
  it('divides each round by the baseline run of that same round', () => {
    expect(pairedRatios(runs([30, 60, 50]), runs([60, 30, 50]))).toEqual([0.5, 2, 1]);
  });

  it('compares with one configuration: the fastest against itself is 1 in every round', () => {
    const four = runs([100, 200, 150]);
    const sixteen = runs([200, 100, 150]);
    const reference = fastestByMedian([four, sixteen]) as ThroughputRuns;
    expect(pairedRatios(reference, reference)).toEqual([1, 1, 1]);
    expect(pairedRatios(sixteen, reference)).toEqual([2, 0.5, 1]);
  });
});

describe('fastestByMedian', () => {
  it('picks the configuration with the highest median rate, not the highest single run', () => {
    const steady = runs([300, 310, 320]);
    const spiky = runs([100, 900, 200]);
    expect(fastestByMedian([spiky, steady])).toBe(steady);
    expect(fastestByMedian([])).toBeUndefined();
  });
});

describe('opsPerCpuSecond', () => {
  it('counts the client and the daemon CPU of each run', () => {
    expect(opsPerCpuSecond(runs([1, 1], [100, 300], [400, 200]))).toEqual([2000, 2000]);
  });
});
