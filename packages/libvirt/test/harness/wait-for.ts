/** `waitFor` gave up; `cause` is the last error the check threw, if any. */
export class WaitTimeoutError extends Error {
  readonly code = 'WAIT_TIMEOUT';
  constructor(what: string, timeoutMs: number, options?: ErrorOptions) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`, options);
    this.name = 'WaitTimeoutError';
  }
}

export function isWaitTimeout(err: unknown): err is WaitTimeoutError {
  return err instanceof WaitTimeoutError;
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Says what was awaited, for the timeout error. */
  what?: string;
  /** Gives up at once (with WaitTimeoutError) when this turns true: the condition can no longer come. */
  stopIf?: () => boolean;
}

/**
 * Polls `check` until it returns something other than `undefined` and returns that, or throws
 * after the deadline with the last error `check` threw. Tests wait for conditions, not for time.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 100, what = 'condition', stopIf }: WaitForOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline || stopIf?.() === true) {
      throw new WaitTimeoutError(what, timeoutMs, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
