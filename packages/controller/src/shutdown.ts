import type { Logger } from 'pino';

/** After the grace period, how long closing the database and flushing logs may take before exit. */
export const CLOSE_MARGIN_MS = 5_000;

export interface Stoppable {
  config: { shutdownGraceMs: number };
  /** Stops serving (in flight get the grace period), then closes the services and the database. */
  close(): Promise<void>;
}

/**
 * What SIGTERM and SIGINT do to a running controller: close it (requests in flight get the grace
 * period, then their connections are closed) and exit 0; exit 1 if closing fails or outlasts the
 * deadline (grace + CLOSE_MARGIN_MS), whatever a database close or a log flush is doing; a second
 * signal exits at once. `exit` is process.exit in main.
 */
export function signalHandler(controller: Stoppable, log: Logger, exit: (code: number) => void) {
  let stopping = false;
  return (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting at once');
      exit(1);
      return;
    }
    stopping = true;
    const graceMs = controller.config.shutdownGraceMs;
    log.info({ signal, graceMs }, 'shutting down: requests in flight may finish within the grace period');
    const deadline = setTimeout(() => {
      log.error({ afterMs: graceMs + CLOSE_MARGIN_MS }, 'shutdown deadline passed: exiting');
      exit(1);
    }, graceMs + CLOSE_MARGIN_MS);
    controller.close().then(
      () => {
        clearTimeout(deadline);
        log.info('stopped');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(deadline);
        log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
}
