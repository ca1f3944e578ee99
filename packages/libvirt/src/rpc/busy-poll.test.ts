import { afterEach, describe, expect, it, vi } from 'vitest';
import { BusyPoll } from './busy-poll.ts';

/** Resolves once `poll` is no longer spinning, with the number of event-loop turns it saw meanwhile. */
async function turnsUntilIdle(poll: BusyPoll): Promise<number> {
  let turns = 0;
  while (poll.active) {
    turns++;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return turns;
}

describe('BusyPoll', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps the loop turning for about its budget after the last activity while calls are in flight', async () => {
    const poll = new BusyPoll(20_000, () => true);
    const began = performance.now();
    poll.touch();
    expect(poll.active).toBe(true);
    await turnsUntilIdle(poll);
    expect(performance.now() - began).toBeGreaterThanOrEqual(20);
  });

  it('each activity starts the budget again', async () => {
    const poll = new BusyPoll(100_000, () => true);
    poll.touch();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const retouched = performance.now();
    poll.touch();
    await turnsUntilIdle(poll);
    // Had the budget run from the first touch, the spin would have ended ~80 ms after the second.
    expect(performance.now() - retouched).toBeGreaterThanOrEqual(100);
  });

  it('stops at the next turn once no call is in flight, and never starts without one', async () => {
    let inFlight = false;
    const poll = new BusyPoll(10_000_000, () => inFlight);
    poll.touch();
    expect(poll.active).toBe(false);
    inFlight = true;
    poll.touch();
    expect(poll.active).toBe(true);
    inFlight = false;
    expect(await turnsUntilIdle(poll)).toBeLessThanOrEqual(2);
  });

  it('a budget of 0 (or less) never spins', () => {
    for (const budget of [0, -5]) {
      const poll = new BusyPoll(budget, () => true);
      poll.touch();
      expect(poll.active).toBe(false);
    }
  });

  it("runs on real time and real turns under a test's fake timers, and still ends", async () => {
    const poll = new BusyPoll(5_000, () => true);
    vi.useFakeTimers();
    poll.touch();
    expect(poll.active).toBe(true);
    vi.useRealTimers();
    await turnsUntilIdle(poll);
    expect(poll.active).toBe(false);
  });
});
