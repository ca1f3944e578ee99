export interface BackoffOptions {
  /** Ceiling of the first delay. */
  baseMs: number;
  /** Ceiling of every delay. */
  capMs: number;
  /** Source of randomness in [0, 1); tests pass their own. */
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, capMs: 30_000 };

/**
 * Exponential backoff with full jitter (AWS's "Exponential Backoff And Jitter"): the n-th consecutive
 * failure waits a uniform random time in [0, min(cap, base * 2^n)). Spreads a fleet of agents that lost
 * the same controller over the whole window instead of letting them return in waves.
 */
export class Backoff {
  private attempt = 0;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {
    this.random = options.random ?? Math.random;
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.attempt;
  }

  /** The ceiling of the next delay. */
  get ceilingMs(): number {
    // 2^attempt is capped before it can overflow into Infinity.
    return Math.min(this.options.capMs, this.options.baseMs * 2 ** Math.min(this.attempt, 30));
  }

  /** The delay before the next attempt; counts one more failure. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceilingMs);
    this.attempt++;
    return delay;
  }

  /** After a stable session: the next failure starts from the base again. */
  reset(): void {
    this.attempt = 0;
  }
}

/** A jittered interval: uniform in [interval * (1 - spread), interval]. */
export function jittered(intervalMs: number, spread = 0.25, random: () => number = Math.random): number {
  return Math.round(intervalMs * (1 - spread * random()));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
