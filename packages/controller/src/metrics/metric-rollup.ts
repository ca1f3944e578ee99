import type { Tx } from '../database/sql.ts';
import { METRICS_OF, type Subject } from './metric-catalog.ts';
import { TIERS, type Tier, tableOf } from './metric-tiers.ts';

/** A bucket range [fromMs, toMs) of a rollup tier to compute (again). */
export interface BucketRange {
  fromMs: number;
  toMs: number;
}

/**
 * Computes `tier`'s buckets in `range` for every VM (or host) from the tier below it, replacing what
 * was there: 1-minute rows from raw samples (average and maximum of the samples), 1-hour rows from
 * 1-minute rows (average of the minutes' averages, each minute weighing the same, and the maximum of
 * their maxima). Buckets are aligned to the unix epoch, in UTC.
 */
export async function rollUp(
  tx: Tx,
  subject: Subject,
  tier: '1m' | '1h',
  range: BucketRange,
): Promise<number> {
  const source: Tier = tier === '1m' ? 'raw' : '1m';
  const metrics = METRICS_OF[subject];
  const id = `${subject}_id`;
  const targets = metrics.flatMap((m) => [`${m.name}_avg`, `${m.name}_max`]);
  const aggregates = metrics.flatMap((m) =>
    source === 'raw' ? [`avg(${m.name})`, `max(${m.name})`] : [`avg(${m.name}_avg)`, `max(${m.name}_max)`],
  );
  const result = await tx.unsafe(
    `insert into ${tableOf(subject, tier)} (${id}, at, ${targets.join(', ')})
     select ${id}, date_bin($3::interval, at, timestamptz 'epoch'), ${aggregates.join(', ')}
     from ${tableOf(subject, source)}
     where at >= $1 and at < $2
     group by 1, 2
     on conflict (${id}, at) do update set ${targets.map((t) => `${t} = excluded.${t}`).join(', ')}`,
    [new Date(range.fromMs), new Date(range.toMs), `${TIERS[tier].bucketMs / 1000} seconds`],
  );
  return result.count;
}
