import type { AgentServiceClient, Welcome } from '@cockpit/proto';
import type { Logger } from 'pino';
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF, sleep } from './backoff.ts';
import { runSession, type SessionOptions } from './session.ts';
import { describeEnd, isRevoked, type SessionEnd } from './session-end.ts';

export interface ConnectionLoopOptions extends Omit<SessionOptions, 'client' | 'welcomed'> {
  /** A fresh client for each attempt (closed after it). */
  createClient: () => Promise<AgentServiceClient>;
  /** Whether an error of createClient is worth another attempt; any other ends the loop with it. */
  retryable?: (err: unknown) => boolean;
  backoff?: BackoffOptions;
  /** A session welcomed and up this long resets the backoff. */
  stableAfterMs?: number;
  log: Logger;
  /** Connection state, for whoever embeds the agent. */
  onState?: (state: { connected: boolean; welcome?: Welcome; end?: SessionEnd }) => void;
}

export type ConnectionExit = { kind: 'closed' } | { kind: 'revoked'; message: string };

/**
 * Keeps one session with the controller: after each end, logs why, waits an exponential backoff with
 * full jitter (never a busy loop; reset after a stable session) and connects again. Ends only when the
 * agent stops, or when the controller revoked this host's credential.
 */
export async function runConnectionLoop(options: ConnectionLoopOptions): Promise<ConnectionExit> {
  const { log, signal } = options;
  const backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
  const stableAfterMs = options.stableAfterMs ?? 10_000;
  while (!signal.aborted) {
    let end: SessionEnd;
    let welcomedAt: number | undefined;
    try {
      const client = await options.createClient();
      try {
        ({ end, welcomedAt } = await runSession({
          ...options,
          client,
          welcomed: (welcome) => options.onState?.({ connected: true, welcome }),
        }));
      } finally {
        client.close();
      }
    } catch (err) {
      // Only preparing the client throws (runSession never does): e.g. the CA pin cannot be checked yet.
      if (options.retryable?.(err) !== true) throw err;
      end = { kind: 'setup_failed', message: (err as Error).message };
    }
    options.onState?.({ connected: false, end });
    if (end.kind === 'closed') break;
    const upMs = welcomedAt === undefined ? 0 : Date.now() - welcomedAt;
    if (isRevoked(end)) {
      const message = end.kind === 'goodbye' ? end.message : '';
      log.error({ ...describeEnd(end) }, 'the controller revoked this host: not reconnecting');
      return { kind: 'revoked', message };
    }
    if (upMs >= stableAfterMs) backoff.reset();
    const delayMs = backoff.next();
    log.warn(
      { ...describeEnd(end), upMs, retryInMs: delayMs, failures: backoff.failures },
      'disconnected from the controller',
    );
    await sleep(delayMs, signal);
  }
  return { kind: 'closed' };
}
