/** A deadline for a test's wait, and what it waits for, so a failure says what did not happen. */
export interface Deadline {
  withinMs: number;
  /** What should have happened, e.g. 'keepalive to declare the daemon dead'. */
  what: string;
}

/**
 * `p`, or a rejection naming `what` when `p` has not settled within `withinMs`: a test fails at once
 * with a message instead of hanging until the runner's timeout.
 */
export function within<T>(p: Promise<T>, { withinMs, what }: Deadline): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what}: did not happen within ${withinMs} ms`)),
      withinMs,
    );
    void p.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/**
 * What `p` rejects with, for assertions with the error predicates (`isNoDomain(await rejectionOf(p))`);
 * throws when `p` fulfils, so a call that wrongly succeeds fails the test, and with `deadline`,
 * throws when `p` is still pending after it, naming what did not happen.
 */
export async function rejectionOf(p: Promise<unknown>, deadline?: Deadline): Promise<unknown> {
  let settled = false;
  const watched = p.finally(() => {
    settled = true;
  });
  try {
    await (deadline === undefined ? watched : within(watched, deadline));
  } catch (err) {
    if (!settled && deadline !== undefined) throw err;
    return err;
  }
  throw new Error('expected a rejection');
}
