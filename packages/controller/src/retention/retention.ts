import type { Logger } from 'pino';
import { deleteAuditEntriesBefore } from '../audit/audit-queries.ts';
import { deleteRefreshTokensBefore } from '../auth/refresh-tokens.ts';
import { deleteChangesBefore } from '../changes/change-queries.ts';
import type { Clock } from '../clock.ts';
import type { Sql } from '../database/sql.ts';
import { createPeriodicTask } from '../periodic-task.ts';

/** Advisory-lock key (two-int key space) that makes one replica at a time prune. */
const LOCK = [0x7265, 1] as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionRun {
  /** False when another replica was pruning at that moment (it does the work). */
  ran: boolean;
  auditEntries: number;
  refreshTokens: number;
  /** Rows of the change log (the replicas' VM caches and the change feed read only its newest). */
  changes: number;
}

/**
 * Keeps the tables that grow with use bounded in time: audit entries, dead refresh tokens and change log
 * rows older than `days` are deleted, hourly, by one replica at a time (a transaction-scoped advisory
 * lock that the others do not wait for).
 */
export interface Retention {
  runOnce(): Promise<RetentionRun>;
  /** Prunes now and then every `intervalMs` (default an hour). */
  start(intervalMs?: number): void;
  /** Stops the timer and waits for a prune in progress. */
  stop(): Promise<void>;
}

export function createRetention(deps: { sql: Sql; clock: Clock; log: Logger; days: number }): Retention {
  const { sql, clock, log, days } = deps;

  const runOnce = async (): Promise<RetentionRun> => {
    const cutoff = new Date(clock.now().getTime() - days * DAY_MS);
    return (await sql.begin(async (tx) => {
      const [lock] = await tx<
        { got: boolean }[]
      >`select pg_try_advisory_xact_lock(${LOCK[0]}, ${LOCK[1]}) as got`;
      if (lock?.got !== true) return { ran: false, auditEntries: 0, refreshTokens: 0, changes: 0 };
      const auditEntries = await deleteAuditEntriesBefore(tx, cutoff);
      const refreshTokens = await deleteRefreshTokensBefore(tx, cutoff);
      const changes = await deleteChangesBefore(tx, cutoff);
      if (auditEntries + refreshTokens + changes > 0) {
        log.info(
          { auditEntries, refreshTokens, changes, olderThanDays: days },
          'retention: deleted old rows',
        );
      }
      return { ran: true, auditEntries, refreshTokens, changes };
    })) as RetentionRun;
  };

  const task = createPeriodicTask(runOnce, (err: unknown) =>
    log.warn({ err }, 'retention: pruning failed; next try in an hour'),
  );
  return {
    runOnce,
    start: (intervalMs = 60 * 60 * 1000) => task.start(intervalMs),
    stop: () => task.stop(),
  };
}
