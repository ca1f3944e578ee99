/** Work that runs now and then every `intervalMs` (retention, metrics maintenance), stopped cleanly. */
export interface PeriodicTask {
  /** Runs it now, then every `intervalMs`; a second start does nothing. */
  start(intervalMs: number): void;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/** `run` failing is logged by `onError` and tried again at the next interval. */
export function createPeriodicTask(
  run: () => Promise<unknown>,
  onError: (err: unknown) => void,
): PeriodicTask {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  return {
    start(intervalMs) {
      if (timer !== undefined) return;
      const tick = () => {
        running = run().catch(onError);
      };
      timer = setInterval(tick, intervalMs);
      timer.unref();
      tick();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
