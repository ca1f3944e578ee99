import { vmValue } from '@cockpit/proto';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CounterReading, CounterSource } from './counters.ts';
import { SampleBuffer } from './sample-buffer.ts';
import { Sampler } from './sampler.ts';

// The sampler on a fake clock: slots at whole multiples of the period, a period from the controller,
// late timers, failed readings.

const log = pino({ level: 'silent' });

/** A VM burning one of its two vCPUs; the reading fails while `down`. */
class FakeSource implements CounterSource {
  down = false;
  readonly readAt: number[] = [];
  async readCounters(): Promise<CounterReading> {
    if (this.down) throw new Error('libvirt is down');
    const now = Date.now();
    this.readAt.push(now);
    return {
      readAtMs: now,
      host: { memoryTotalBytes: 8, memoryUsedBytes: 4, memoryAvailableBytes: 4 },
      vms: [{ id: 'v1', name: 'db-01', instance: 1, vcpus: 2, cpuTimeNs: now * 1e6, disks: [], nets: [] }],
    };
  }
}

let source: FakeSource;
let buffer: SampleBuffer;
let sampler: Sampler;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.setSystemTime(1_000_012_345);
  source = new FakeSource();
  buffer = new SampleBuffer({ maxSamples: 10_000, maxAgeMs: 3_600_000 });
  sampler = new Sampler({ source, buffer, periodMs: 10_000, log });
});

afterEach(async () => {
  await sampler.close();
  vi.useRealTimers();
});

/** Every batch in the buffer, taken out as the session would. */
const batches = () => {
  const out = [];
  for (let next = buffer.next(); next !== undefined; next = buffer.next()) {
    if (next.request.message?.$case === 'metrics') out.push(next.request.message.value);
    next.written();
  }
  return out;
};
const slots = () => batches().flatMap((b) => b.hosts.map((h) => h.atMs));

describe('Sampler', () => {
  it('samples at whole multiples of the period; rates from the second slot on', async () => {
    sampler.start();
    await vi.advanceTimersByTimeAsync(35_000);
    expect(source.readAt).toEqual([1_000_020_000, 1_000_030_000, 1_000_040_000]);
    const vms = batches().flatMap((b) => b.vms);
    expect(vms.map((v) => [v.atMs, vmValue(v, 'cpuPercent')])).toEqual([
      [1_000_020_000, undefined],
      [1_000_030_000, 50],
      [1_000_040_000, 50],
    ]);
    expect(sampler.latest.vms[0]?.atMs).toBe(1_000_040_000);
    expect(sampler.latest.names).toEqual(['db-01']);
  });

  it("follows the controller's period, clamped to 1 s .. 1 h; 0 means the configured one", async () => {
    sampler.start();
    await vi.advanceTimersByTimeAsync(8_000); // read at 1_000_020_000, now 1_000_020_345
    sampler.setPeriod(1_000);
    await vi.advanceTimersByTimeAsync(3_000);
    // Realigned to whole seconds.
    expect(source.readAt).toEqual([1_000_020_000, 1_000_021_000, 1_000_022_000, 1_000_023_000]);
    sampler.setPeriod(50);
    expect(sampler.periodMs).toBe(1_000);
    sampler.setPeriod(7_200_000);
    expect(sampler.periodMs).toBe(3_600_000);
    sampler.setPeriod(0);
    expect(sampler.periodMs).toBe(10_000);
  });

  it('a new period starts at least half a period after the last reading', async () => {
    sampler.setPeriod(1_000);
    sampler.start();
    await vi.advanceTimersByTimeAsync(7_655); // read every second up to 1_000_020_000
    expect(source.readAt.at(-1)).toBe(1_000_020_000);
    sampler.setPeriod(10_000);
    await vi.advanceTimersByTimeAsync(1_000);
    sampler.setPeriod(1_000);
    sampler.setPeriod(10_000);
    await vi.advanceTimersByTimeAsync(19_000);
    // 30,000 is 10 s after the last reading: fine. Then 40,000.
    expect(source.readAt.slice(-3)).toEqual([1_000_020_000, 1_000_030_000, 1_000_040_000]);
    // From 10 s to 1 s at 40,700: 41,000 would follow 300 ms after nothing — the last reading was at
    // 40,000, a second before: fine, and aligned.
    await vi.advanceTimersByTimeAsync(700);
    sampler.setPeriod(1_000);
    await vi.advanceTimersByTimeAsync(300);
    expect(source.readAt.at(-1)).toBe(1_000_041_000);
    // From 1 s to 10 s at 41,900: 50,000 is 9 s after the last reading; from 10 s to 1 s right after a
    // reading at 50,000: 51,000 (a whole second later), never 50,000 again.
    await vi.advanceTimersByTimeAsync(900);
    sampler.setPeriod(10_000);
    await vi.advanceTimersByTimeAsync(8_100);
    expect(source.readAt.at(-1)).toBe(1_000_050_000);
    sampler.setPeriod(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(source.readAt.slice(-2)).toEqual([1_000_050_000, 1_000_051_000]);
  });

  it('a timer more than half a period late skips its slot instead of mislabelling the reading', async () => {
    sampler.start();
    await vi.advanceTimersByTimeAsync(7_654); // the timer for 20,000 is 1 ms away
    // The event loop was blocked for 25 s: the clock has passed three slots when the timer runs.
    vi.setSystemTime(1_000_045_000);
    await vi.advanceTimersByTimeAsync(1);
    expect(source.readAt).toEqual([]);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(slots()).toEqual([1_000_050_000, 1_000_060_000]);
    // 20,000 (late), 30,000 and 40,000 (passed over).
    expect(sampler.stats.skipped).toBe(3);
  });

  it('a reading slower than the period: the slots it covered are skipped, the next one is aligned', async () => {
    const slow = new FakeSource();
    const read = slow.readCounters.bind(slow);
    slow.readCounters = async (signal?: AbortSignal) => {
      const reading = await read();
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 12_000);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(signal.reason);
        });
      });
      return reading;
    };
    await sampler.close();
    sampler = new Sampler({ source: slow, buffer, periodMs: 10_000, log });
    sampler.start();
    await vi.advanceTimersByTimeAsync(55_000); // the reading at 60,000 is still running
    expect(slow.readAt).toEqual([1_000_020_000, 1_000_040_000, 1_000_060_000]);
    expect(sampler.stats.skipped).toBe(2);
  });

  it('keeps going through failed readings; the next good one has no rate after a long gap', async () => {
    sampler.start();
    await vi.advanceTimersByTimeAsync(10_000); // one reading, at 20,000
    source.down = true;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sampler.stats.failures).toBe(6);
    source.down = false;
    await vi.advanceTimersByTimeAsync(10_000);
    const vm = sampler.latest.vms[0];
    expect(vm?.atMs).toBe(1_000_090_000);
    expect(vm && vmValue(vm, 'cpuPercent')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10_000);
    const next = sampler.latest.vms[0];
    expect(next && vmValue(next, 'cpuPercent')).toBe(50);
  });
});
