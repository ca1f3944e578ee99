/**
 * Resolves true once `holds()` is true: at once, or at one of the wake-ups `subscribe` delivers; false
 * when `timeoutMs` passes first or `signal` aborts. It unsubscribes either way. For waits on what the
 * agent hears anyway (its journal's changes, libvirt's events), so that nothing polls libvirt.
 */
export function untilNotified(
  subscribe: (wake: () => void) => () => void,
  holds: () => boolean,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<boolean> {
  const { signal } = options;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const check = () => {
      if (holds()) settle(true);
    };
    const onAbort = () => settle(false);
    const unsubscribe = subscribe(check);
    const timer = setTimeout(() => settle(false), options.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) settle(false);
    else check();
  });
}
