import type { Sql } from '../database/sql.ts';
import { METRICS_OF, type MetricDefinition, type Subject } from './metric-catalog.ts';
import { TIERS, type Tier, type TierRetention, tableOf } from './metric-tiers.ts';

/** Most points one series request may ask for ((to - from) / step), like Prometheus' 11,000. */
export const MAX_POINTS = 11_000;

const COARSE_TO_FINE: readonly Tier[] = ['1h', '1m', 'raw'];

/**
 * The tier a series is read from: the coarsest whose buckets are no wider than `step` (fewest rows
 * read, still a value per step) among those still holding `from`; when none holds `from` at that
 * resolution, the finest that does (its points are then further apart than `step`); the coarsest
 * when none reaches back that far.
 */
export function pickTier(stepMs: number, fromMs: number, nowMs: number, retention: TierRetention): Tier {
  const holds = (tier: Tier) => fromMs >= nowMs - retention[tier];
  const fine = COARSE_TO_FINE.find((tier) => TIERS[tier].bucketMs <= stepMs && holds(tier));
  if (fine !== undefined) return fine;
  return [...COARSE_TO_FINE].reverse().find(holds) ?? '1h';
}

export interface SeriesPoint {
  /** The start of the step, unix ms (a whole multiple of the step). */
  atMs: number;
  /** Per metric, in the order asked: the average and the maximum over the step (null: no value). */
  values: Array<{ avg: number | null; max: number | null }>;
}

/**
 * One VM's or host's metrics between `fromMs` and `toMs`, one point per `stepMs` that holds samples:
 * from raw samples the average and maximum of the samples in the step, from rollups the average of
 * the bucket averages and the maximum of the maxima. Rows past the tier's retention are not read,
 * even while their partition still exists.
 */
export async function readSeries(
  sql: Sql,
  q: {
    subject: Subject;
    id: string;
    tier: Tier;
    metrics: ReadonlyArray<MetricDefinition<string>>;
    fromMs: number;
    toMs: number;
    stepMs: number;
    oldestMs: number;
  },
): Promise<SeriesPoint[]> {
  const columns = q.metrics
    .flatMap((m) =>
      q.tier === 'raw' ? [`avg(${m.name})`, `max(${m.name})`] : [`avg(${m.name}_avg)`, `max(${m.name}_max)`],
    )
    .map((aggregate) => `${aggregate}::real`); // as stored: 7 significant digits, printed shortest
  // The step's start as unix ms in a float8: a number to read, cheaper than a timestamp to parse (a day at
  // 10 s is 8,640 rows).
  // Rows as arrays (`values()`): no object with named keys built per row.
  const rows = (await sql
    .unsafe(
      `select (extract(epoch from date_bin($4::interval, at, timestamptz 'epoch')) * 1000)::float8 as t,
            ${columns.join(', ')}
     from ${tableOf(q.subject, q.tier)}
     where ${q.subject}_id = $1 and at >= greatest($2::timestamptz, $5::timestamptz) and at < $3
     group by 1 order by 1`,
      [q.id, new Date(q.fromMs), new Date(q.toMs), `${q.stepMs / 1000} seconds`, new Date(q.oldestMs)],
    )
    .values()) as unknown as Array<Array<number | null>>;
  return rows.map((row) => ({
    atMs: Number(row[0]),
    values: q.metrics.map((_, i) => ({
      avg: numberOrNull(row[1 + 2 * i]),
      max: numberOrNull(row[2 + 2 * i]),
    })),
  }));
}

const numberOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export const metricsOf = (subject: Subject) => METRICS_OF[subject];
