import { describe, expect, it } from 'vitest';
import { Backoff, jittered, sleep } from './backoff.ts';

describe('Backoff', () => {
  it('full jitter: each delay lies in [0, min(cap, base * 2^n)) and the ceiling doubles to the cap', () => {
    const backoff = new Backoff({ baseMs: 200, capMs: 30_000 });
    const ceilings: number[] = [];
    for (let n = 0; n < 12; n++) {
      const ceiling = backoff.ceilingMs;
      ceilings.push(ceiling);
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(ceiling);
    }
    expect(ceilings).toEqual([
      200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('reaches both ends of the window with extreme random draws, and never overflows', () => {
    const low = new Backoff({ baseMs: 200, capMs: 30_000, random: () => 0 });
    const high = new Backoff({ baseMs: 200, capMs: 30_000, random: () => 0.999999 });
    for (let n = 0; n < 2000; n++) {
      expect(low.next()).toBe(0);
      expect(high.next()).toBeLessThan(30_000);
    }
    expect(high.next()).toBe(29_999);
  });

  it('the delays of many draws spread over the window (not bunched at one end)', () => {
    const backoff = new Backoff({ baseMs: 1000, capMs: 1000 });
    const delays = Array.from({ length: 4000 }, () => backoff.next());
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(400);
    expect(mean).toBeLessThan(600);
    expect(Math.min(...delays)).toBeLessThan(100);
    expect(Math.max(...delays)).toBeGreaterThan(900);
  });

  it('reset starts again from the base', () => {
    const backoff = new Backoff({ baseMs: 200, capMs: 30_000 });
    for (let n = 0; n < 6; n++) backoff.next();
    expect(backoff.failures).toBe(6);
    backoff.reset();
    expect(backoff.ceilingMs).toBe(200);
  });
});

describe('jittered', () => {
  it('stays within [interval * (1 - spread), interval]', () => {
    for (let i = 0; i < 1000; i++) {
      const v = jittered(2000);
      expect(v).toBeGreaterThanOrEqual(1500);
      expect(v).toBeLessThanOrEqual(2000);
    }
    expect(jittered(2000, 0.25, () => 0)).toBe(2000);
    expect(jittered(2000, 0.25, () => 1)).toBe(1500);
  });
});

describe('sleep', () => {
  it('ends early when its signal aborts', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const pending = sleep(60_000, controller.signal);
    controller.abort();
    await pending;
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
