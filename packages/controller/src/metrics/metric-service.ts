import type { Clock } from '../clock.ts';
import type { Sql } from '../database/sql.ts';
import { ServiceError } from '../service-error.ts';
import { METRICS_OF, type MetricDefinition, type Subject } from './metric-catalog.ts';
import { MAX_POINTS, pickTier, readSeries, type SeriesPoint } from './metric-series.ts';
import { floorTo, TIERS, type Tier, type TierRetention } from './metric-tiers.ts';

export interface SeriesRequest {
  subject: Subject;
  /** The VM's or host's id, lower-case. */
  id: string;
  /** Default: an hour before `toMs`. */
  fromMs?: number;
  /** Default: now. */
  toMs?: number;
  /** Default: the smallest of DEFAULT_STEPS giving at most 1,000 points. */
  stepMs?: number;
  /** Metric names (METRICS_OF[subject]); empty: all of them. */
  metrics: readonly string[];
}

export interface Series {
  fromMs: number;
  toMs: number;
  stepMs: number;
  tier: Tier;
  /** The width of the tier's buckets, ms (raw: the agents' sampling period). */
  resolutionMs: number;
  metrics: ReadonlyArray<MetricDefinition<string>>;
  points: SeriesPoint[];
}

export interface MetricService {
  /** Throws ServiceError `not_found` (no such VM or host), `invalid_argument`, `too_many_points`. */
  series(request: SeriesRequest): Promise<Series>;
}

const HOUR = 3_600_000;
/** Steps a series gets when none is asked for: the smallest giving at most 1,000 points. */
const DEFAULT_STEPS_S = [10, 30, 60, 300, 900, 1800, 3600, 10_800, 21_600, 43_200, 86_400];

function defaultStep(rangeMs: number): number {
  const seconds =
    DEFAULT_STEPS_S.find((s) => rangeMs / (s * 1000) <= 1000) ?? Math.ceil(rangeMs / 1000 / 1000);
  return seconds * 1000;
}

export function createMetricService(deps: {
  sql: Sql;
  clock: Clock;
  retention: TierRetention;
  /** The agents' sampling period, ms: the raw tier's resolution. */
  intervalMs: number;
}): MetricService {
  const { sql, clock, retention } = deps;
  return {
    async series(request) {
      const { subject, id } = request;
      const nowMs = clock.now().getTime();
      const requestedTo = request.toMs ?? nowMs;
      const requestedFrom = request.fromMs ?? requestedTo - HOUR;
      const stepMs = request.stepMs ?? defaultStep(requestedTo - requestedFrom);
      const known = METRICS_OF[subject];
      const unknown = request.metrics.filter((name) => !known.some((m) => m.name === name));
      if (unknown.length > 0) {
        throw new ServiceError('invalid_argument', `unknown ${subject} metric: ${unknown.join(', ')}`, {
          inputs: [
            {
              input: 'metrics',
              in: 'query',
              message: `unknown: ${unknown.join(', ')}; known: ${known.map((m) => m.name).join(', ')}`,
            },
          ],
        });
      }
      const metrics =
        request.metrics.length === 0 ? known : known.filter((m) => request.metrics.includes(m.name));
      // Points start at whole steps: `from` is moved back to the start of its step.
      const fromMs = floorTo(requestedFrom, stepMs);
      const toMs = requestedTo;
      if (fromMs >= toMs) {
        // Only when one of them is left to its default (the route checks two given ones): a `from` in
        // the future against `to` = now.
        throw new ServiceError('invalid_argument', '`from` must be before `to`', {
          inputs: [
            {
              input: 'from',
              in: 'query',
              message: `must be before \`to\` (${new Date(toMs).toISOString()}${request.toMs === undefined ? ', now' : ''})`,
            },
          ],
        });
      }
      const points = Math.ceil((toMs - fromMs) / stepMs);
      if (points > MAX_POINTS) {
        throw new ServiceError(
          'too_many_points',
          `${points} points of ${stepMs / 1000} s asked; at most ${MAX_POINTS}: use a larger step or a shorter range`,
        );
      }
      const table = subject === 'vm' ? sql`vms` : sql`hosts`;
      const [exists] = await sql`select 1 from ${table} where id = ${id}`;
      if (exists === undefined)
        throw new ServiceError('not_found', `no ${subject === 'vm' ? 'VM' : 'host'} ${id}`);
      // Chosen by the `from` asked (not the one moved back to a whole step): a day's series at a 24-hour
      // raw retention is read from raw samples.
      const tier = pickTier(stepMs, requestedFrom, nowMs, retention);
      // A step finer than the tier's buckets would split buckets: read at the tier's width instead.
      const readStep = Math.max(stepMs, TIERS[tier].bucketMs);
      return {
        fromMs,
        toMs,
        stepMs,
        tier,
        resolutionMs: tier === 'raw' ? deps.intervalMs : TIERS[tier].bucketMs,
        metrics,
        points: await readSeries(sql, {
          subject,
          id,
          tier,
          metrics,
          fromMs,
          toMs,
          stepMs: readStep,
          oldestMs: nowMs - retention[tier],
        }),
      };
    },
  };
}
