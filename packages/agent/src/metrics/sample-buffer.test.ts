import type { HostSample, VmSample } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import { SampleBuffer } from './sample-buffer.ts';

const hostAt = (atMs: number): HostSample => ({
  atMs,
  cpuPercent: 0,
  memoryTotalBytes: 1,
  memoryUsedBytes: 0,
  memoryAvailableBytes: 1,
  intervalMs: 0,
  presentFields: 0,
});
const vmAt = (atMs: number, vmId: string): VmSample =>
  ({ vmId, atMs, vcpus: 1, intervalMs: 0, presentFields: 0 }) as VmSample;

/** One period: a host sample and `n` VM samples at `atMs`. */
const period = (buffer: SampleBuffer, atMs: number, n: number) =>
  buffer.push(
    hostAt(atMs),
    Array.from({ length: n }, (_, i) => vmAt(atMs, `vm-${i}`)),
  );

/** Takes and "writes" every batch, as the session does; returns them. */
function drain(buffer: SampleBuffer) {
  const batches = [];
  for (let next = buffer.next(); next !== undefined; next = buffer.next()) {
    if (next.request.message?.$case !== 'metrics') throw new Error('not a MetricsBatch');
    batches.push(next.request.message.value);
    next.written();
  }
  return batches;
}

describe('SampleBuffer', () => {
  it('keeps at most maxSamples, dropping the oldest and counting them', () => {
    const buffer = new SampleBuffer({ maxSamples: 10, maxAgeMs: 3_600_000 });
    for (let t = 1; t <= 5; t++) period(buffer, t * 10_000, 3); // 4 samples each: 20 in all
    expect(buffer.size).toBe(10);
    expect(buffer.dropped).toBe(10);
    const [batch] = drain(buffer);
    // The newest 10: the last two periods whole, and the two newest VM samples of the third-newest.
    expect(batch?.hosts.map((h) => h.atMs)).toEqual([40_000, 50_000]);
    expect(batch?.vms.map((v) => v.atMs)).toEqual([
      30_000, 30_000, 40_000, 40_000, 40_000, 50_000, 50_000, 50_000,
    ]);
  });

  it('keeps at most maxAgeMs behind the newest sample', () => {
    const buffer = new SampleBuffer({ maxSamples: 1_000, maxAgeMs: 30_000 });
    for (let t = 0; t <= 10; t++) period(buffer, t * 10_000, 1);
    expect(drain(buffer).flatMap((b) => b.hosts.map((h) => h.atMs))).toEqual([
      70_000, 80_000, 90_000, 100_000,
    ]);
    expect(buffer.dropped).toBe(14);
  });

  it('batches of at most batchSize, oldest first, several periods in one, a large period split', () => {
    const buffer = new SampleBuffer({ maxSamples: 1_000, maxAgeMs: 3_600_000, batchSize: 4 });
    period(buffer, 10_000, 1);
    period(buffer, 20_000, 5);
    const batches = drain(buffer);
    expect(batches.map((b) => b.hosts.length + b.vms.length)).toEqual([4, 4]);
    expect(batches[0]?.hosts.map((h) => h.atMs)).toEqual([10_000, 20_000]);
    expect(batches.flatMap((b) => b.vms.map((v) => `${v.atMs}/${v.vmId}`))).toEqual([
      '10000/vm-0',
      '20000/vm-0',
      '20000/vm-1',
      '20000/vm-2',
      '20000/vm-3',
      '20000/vm-4',
    ]);
    expect(buffer.size).toBe(0);
    expect(buffer.sent).toBe(8);
  });

  it('a batch that was never written stays (the stream broke): the next session sends it again', () => {
    const buffer = new SampleBuffer({ maxSamples: 1_000, maxAgeMs: 3_600_000 });
    period(buffer, 10_000, 2);
    const lost = buffer.next();
    expect(lost).toBeDefined();
    expect(buffer.size).toBe(3);
    const again = drain(buffer);
    expect(again[0]?.vms).toHaveLength(2);
    expect(buffer.sent).toBe(3);
  });

  it('samples dropped while their batch was being written are not removed twice', () => {
    const buffer = new SampleBuffer({ maxSamples: 4, maxAgeMs: 3_600_000 });
    period(buffer, 10_000, 3);
    const inFlight = buffer.next();
    // Meanwhile a new period pushes the whole in-flight batch out of the bounds.
    period(buffer, 20_000, 3);
    expect(buffer.dropped).toBe(4);
    inFlight?.written();
    expect(buffer.size).toBe(4);
    expect(drain(buffer)[0]?.hosts.map((h) => h.atMs)).toEqual([20_000]);
  });

  it('tells listeners when samples arrive', () => {
    const buffer = new SampleBuffer({ maxSamples: 10, maxAgeMs: 60_000 });
    let calls = 0;
    const off = buffer.onAvailable(() => calls++);
    period(buffer, 10_000, 1);
    off();
    period(buffer, 20_000, 1);
    expect(calls).toBe(1);
  });
});
