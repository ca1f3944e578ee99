import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Keepalive } from './keepalive.ts';

// Pure timing logic: fake timers (Date.now and setInterval) make each step exact.
describe('Keepalive', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function start(intervalMs: number, count: number) {
    const pings: number[] = [];
    const dead: number[] = [];
    const k = new Keepalive(
      { intervalMs, count },
      () => pings.push(Date.now()),
      (silent) => dead.push(silent),
    );
    const t0 = Date.now();
    k.start();
    return { k, pings: () => pings.map((t) => t - t0), dead };
  }

  it('pings after each silent interval and declares the peer dead after count pings and one interval more', () => {
    const { pings, dead } = start(100, 2);
    vi.advanceTimersByTime(99);
    expect(pings()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(pings()).toEqual([100]);
    vi.advanceTimersByTime(100);
    expect(pings()).toEqual([100, 200]);
    vi.advanceTimersByTime(99);
    expect(dead).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(dead).toEqual([300]);
    vi.advanceTimersByTime(1000);
    expect(pings()).toHaveLength(2);
    expect(dead).toHaveLength(1);
  });

  it('anything received resets the silence and the unanswered pings', () => {
    const { k, pings, dead } = start(100, 1);
    vi.advanceTimersByTime(100);
    expect(pings()).toEqual([100]);
    vi.advanceTimersByTime(50);
    k.received();
    vi.advanceTimersByTime(99);
    expect(pings()).toEqual([100]);
    vi.advanceTimersByTime(1);
    expect(pings()).toEqual([100, 250]);
    expect(dead).toEqual([]);
  });

  it('measures the silence to a quarter interval, not to whole intervals', () => {
    const { k, pings } = start(1000, 5);
    vi.advanceTimersByTime(300);
    k.received();
    vi.advanceTimersByTime(1200);
    // Silent from 300 ms, so due at 1300 ms: checked every 250 ms, it goes at the check of 1500 ms.
    expect(pings()).toEqual([1500]);
  });

  it('stop ends it: no ping and no verdict afterwards; stop twice is harmless', () => {
    const { k, pings, dead } = start(100, 1);
    k.stop();
    k.stop();
    vi.advanceTimersByTime(1000);
    expect(pings()).toEqual([]);
    expect(dead).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a second start keeps one timer; an interval of 0 disables it', () => {
    const { k } = start(100, 1);
    k.start();
    expect(vi.getTimerCount()).toBe(1);
    k.stop();
    start(0, 1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
