import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Sql, Tx } from '../database/sql.ts';
import { createPeriodicTask } from '../periodic-task.ts';
import type { Subject } from './metric-catalog.ts';
import { createPartitions, dropPartition, partitionStarts, partitionsBefore } from './metric-partitions.ts';
import { type BucketRange, rollUp } from './metric-rollup.ts';
import { floorTo, type Tier, type TierRetention } from './metric-tiers.ts';

/** Advisory-lock key (two-int key space): one replica at a time maintains the metric tables. */
const LOCK = [0x6d65, 2] as const;
const SUBJECTS: readonly Subject[] = ['vm', 'host'];
const TIER_LIST: readonly Tier[] = ['raw', '1m', '1h'];
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface MetricMaintenanceRun {
  /** False when another replica was maintaining at that moment (it does the work). */
  ran: boolean;
  /** Buckets computed per rollup tier: the new range and the late buckets computed again. */
  rolledUp: Record<'1m' | '1h', { ranges: BucketRange[]; rows: number }>;
  /** Partitions dropped by retention. */
  dropped: string[];
}

export interface MetricMaintenance {
  runOnce(): Promise<MetricMaintenanceRun>;
  /** Runs now and then every `intervalMs` (default a minute). */
  start(intervalMs?: number): void;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

export interface MetricMaintenanceDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
  retention: TierRetention;
  /**
   * How long after a minute ends it is rolled up (default 15 s): samples in flight arrive first. One that
   * arrives later still counts: its minute is computed again at the next run.
   */
  settleMs?: number;
}

/**
 * Keeps the metric tables: creates the partitions ingest will need, rolls raw samples up into 1-minute
 * buckets and those into 1-hour buckets (new buckets and late ones), and drops partitions past their
 * tier's retention. One replica at a time (a session advisory lock the others do not wait for); every
 * step is idempotent, so a run cut short is finished by the next.
 */
export function createMetricMaintenance(deps: MetricMaintenanceDeps): MetricMaintenance {
  const { sql, clock, log, retention } = deps;
  const settleMs = deps.settleMs ?? 15_000;

  const runOnce = async (): Promise<MetricMaintenanceRun> => {
    const idle: MetricMaintenanceRun = {
      ran: false,
      rolledUp: { '1m': { ranges: [], rows: 0 }, '1h': { ranges: [], rows: 0 } },
      dropped: [],
    };
    const db = await sql.reserve();
    try {
      const [lock] = await db<{ got: boolean }[]>`select pg_try_advisory_lock(${LOCK[0]}, ${LOCK[1]}) as got`;
      if (lock?.got !== true) return idle;
      try {
        const nowMs = clock.now().getTime();
        await ensureAhead(db, nowMs);
        const oneMinute = await rollUpMinutes(db, nowMs);
        const oneHour = await rollUpHours(db, nowMs);
        const dropped: string[] = [];
        for (const tier of TIER_LIST) {
          for (const subject of SUBJECTS) {
            for (const name of await partitionsBefore(db, subject, tier, nowMs - retention[tier])) {
              // One transaction per partition: the parent is locked only while one goes.
              await transaction(db, (tx) => dropPartition(tx, name));
              dropped.push(name);
            }
          }
        }
        await db`delete from metric_rollup_pending where bucket < ${new Date(nowMs - retention.raw)}`;
        if (dropped.length > 0) log.info({ dropped }, 'metrics retention: dropped old partitions');
        return { ran: true, rolledUp: { '1m': oneMinute, '1h': oneHour }, dropped };
      } finally {
        await db`select pg_advisory_unlock(${LOCK[0]}, ${LOCK[1]})`;
      }
    } finally {
      db.release();
    }
  };

  /** The partitions of the next two hours of samples and of the rollups' current buckets. */
  async function ensureAhead(db: Sql, nowMs: number): Promise<void> {
    for (const subject of SUBJECTS) {
      const needed: Array<[Tier, number[]]> = [
        ['raw', partitionStarts('raw', nowMs, nowMs + 2 * HOUR)],
        ['1m', partitionStarts('1m', nowMs - retention.raw, nowMs + HOUR)],
        ['1h', partitionStarts('1h', nowMs - retention['1m'], nowMs + HOUR)],
      ];
      for (const [tier, starts] of needed)
        await transaction(db, (tx) => createPartitions(tx, subject, tier, starts));
    }
  }

  async function rollUpMinutes(db: Sql, nowMs: number) {
    return await transaction(db, async (tx) => {
      // FOR UPDATE waits for ingest transactions in flight (they hold it FOR SHARE), so every sample
      // either is committed before the raw rows are read below, or sees the new done_until and marks
      // its minute pending.
      const [state] = await tx<{ done_until: Date | null }[]>`
        select done_until from metric_rollup_state where tier = '1m' for update`;
      const oldest = floorTo(nowMs - retention.raw, MINUTE);
      const from = Math.max(state?.done_until?.getTime() ?? oldest, oldest);
      const to = floorTo(nowMs - settleMs, MINUTE);
      const late = (
        await tx<{ bucket: Date }[]>`delete from metric_rollup_pending where tier = '1m' returning bucket`
      )
        .map((r) => r.bucket.getTime())
        .filter((b) => b >= oldest && b < from);
      const ranges = [
        ...(to > from ? [{ fromMs: from, toMs: to }] : []),
        ...late.map((b) => ({ fromMs: b, toMs: b + MINUTE })),
      ];
      let rows = 0;
      for (const range of ranges) {
        for (const subject of SUBJECTS) rows += await rollUp(tx, subject, '1m', range);
      }
      // Late minutes change hours that may be rolled up already.
      const [hours] = await tx<{ done_until: Date | null }[]>`
        select done_until from metric_rollup_state where tier = '1h'`;
      const hoursDone = hours?.done_until?.getTime();
      const lateHours = [...new Set(late.map((b) => floorTo(b, HOUR)))].filter(
        (h) => hoursDone !== undefined && h < hoursDone,
      );
      if (lateHours.length > 0) {
        await tx`
          insert into metric_rollup_pending (tier, bucket)
          select '1h', unnest(${lateHours.map((h) => new Date(h).toISOString())}::timestamptz[])
          on conflict do nothing`;
      }
      if (to > from) await tx`update metric_rollup_state set done_until = ${new Date(to)} where tier = '1m'`;
      return { ranges, rows };
    });
  }

  async function rollUpHours(db: Sql, nowMs: number) {
    return await transaction(db, async (tx) => {
      const [hourState] = await tx<{ done_until: Date | null }[]>`
        select done_until from metric_rollup_state where tier = '1h' for update`;
      const [minuteState] = await tx<{ done_until: Date | null }[]>`
        select done_until from metric_rollup_state where tier = '1m'`;
      const minutesDone = minuteState?.done_until?.getTime();
      const hoursDone = hourState?.done_until?.getTime();
      const oldest = floorTo(nowMs - retention['1m'], HOUR);
      const from = Math.max(hoursDone ?? oldest, oldest);
      // An hour is rolled up once all its minutes are.
      const to = minutesDone === undefined ? from : floorTo(minutesDone, HOUR);
      const late = (
        await tx<{ bucket: Date }[]>`delete from metric_rollup_pending where tier = '1h' returning bucket`
      )
        .map((r) => r.bucket.getTime())
        .filter((b) => b >= oldest && b < from);
      const ranges = [
        ...(to > from ? [{ fromMs: from, toMs: to }] : []),
        ...late.map((b) => ({ fromMs: b, toMs: b + HOUR })),
      ];
      let rows = 0;
      for (const range of ranges) {
        for (const subject of SUBJECTS) rows += await rollUp(tx, subject, '1h', range);
      }
      if (to > from) await tx`update metric_rollup_state set done_until = ${new Date(to)} where tier = '1h'`;
      return { ranges, rows };
    });
  }

  const task = createPeriodicTask(runOnce, (err: unknown) =>
    log.warn({ err }, 'metrics maintenance failed; next try in a minute'),
  );
  return {
    runOnce,
    start: (intervalMs = MINUTE) => task.start(intervalMs),
    stop: () => task.stop(),
  };
}

/**
 * A transaction on a reserved connection (which has no `begin` of its own): the maintenance holds its
 * session lock on that connection and runs each step as its own short transaction there.
 */
async function transaction<T>(db: Sql, run: (tx: Tx) => Promise<T>): Promise<T> {
  await db`begin`;
  try {
    const result = await run(db as unknown as Tx);
    await db`commit`;
    return result;
  } catch (err) {
    await db`rollback`.catch(() => undefined);
    throw err;
  }
}
