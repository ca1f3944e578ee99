import type { Subject } from './metric-catalog.ts';

export type Tier = 'raw' | '1m' | '1h';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface TierSpec {
  /** The width of one rollup bucket, ms (raw: 0, as the agents sampled). */
  bucketMs: number;
  /** The width of one partition, ms: what retention drops at once (see 0006_metrics.sql). */
  partitionMs: number;
}

export const TIERS: Record<Tier, TierSpec> = {
  raw: { bucketMs: 0, partitionMs: HOUR },
  '1m': { bucketMs: MINUTE, partitionMs: DAY },
  '1h': { bucketMs: HOUR, partitionMs: 10 * DAY },
};

/** How long each tier is kept, ms (COCKPIT_METRICS_*_RETENTION). */
export type TierRetention = Record<Tier, number>;

export const tableOf = (subject: Subject, tier: Tier): string => `metric_${subject}_${tier}`;

/** Whole multiples of `width` since the unix epoch (UTC): buckets and partitions are aligned to them. */
export const floorTo = (ms: number, width: number): number => Math.floor(ms / width) * width;
