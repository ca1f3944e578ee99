import { z } from '@hono/zod-openapi';
import { isStorableTime, STORABLE_TIME_MESSAGE } from '../http/storable-time.ts';
import { METRICS_OF, type Subject } from './metric-catalog.ts';
import type { Series } from './metric-service.ts';

const UNITS = [
  'percent',
  'bytes',
  'bytes_per_second',
  'operations_per_second',
  'packets_per_second',
] as const;
const DURATION = /^(\d{1,7})(s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `from`/`to`: RFC 3339 (`2026-12-03T10:00:00Z`) or unix seconds (`1796292000`, decimals allowed). */
const timeQuery = (name: string, description: string) =>
  z
    .string()
    .transform((text, ctx) => {
      const ms = /^\d{1,12}(\.\d{1,9})?$/.test(text)
        ? Math.round(Number(text) * 1000)
        : z.iso.datetime({ offset: true }).safeParse(text).success
          ? Date.parse(text)
          : Number.NaN;
      if (Number.isNaN(ms)) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be an RFC 3339 time (2026-12-03T10:00:00Z) or unix seconds (1796292000)',
        });
        return z.NEVER;
      }
      if (!isStorableTime(ms)) {
        ctx.addIssue({ code: 'custom', message: STORABLE_TIME_MESSAGE });
        return z.NEVER;
      }
      return ms;
    })
    .optional()
    .openapi({ param: { name, in: 'query' }, description, example: '2026-12-03T10:00:00Z' });

/** The query of a metrics series: time range, step and the metrics wanted (names of `subject`). */
export const seriesQuerySchema = (subject: Subject) => {
  const names = METRICS_OF[subject].map((m) => m.name);
  return z
    .object({
      from: timeQuery(
        'from',
        'Start of the range (inclusive): RFC 3339 or unix seconds. Default: one hour before `to`.',
      ),
      to: timeQuery('to', 'End of the range (exclusive): RFC 3339 or unix seconds. Default: now.'),
      step: z
        .string()
        .transform((text, ctx) => {
          const m = DURATION.exec(text);
          const ms = m === null ? 0 : Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 1000);
          if (ms < 1000 || ms > 366 * 86_400_000) {
            ctx.addIssue({
              code: 'custom',
              message:
                'must be a duration from 1s to 366d such as 10s, 5m, 1h, 1d (a bare number is seconds)',
            });
            return z.NEVER;
          }
          return ms;
        })
        .optional()
        .openapi({
          param: { name: 'step', in: 'query' },
          description:
            'Spacing of the points: `10s`, `5m`, `1h`, `1d` (a bare number is seconds). Default: the smallest ' +
            'of 10s, 30s, 1m, 5m, 15m, 30m, 1h, 3h, 6h, 12h, 1d that gives at most 1,000 points.',
          example: '1m',
        }),
      metrics: z
        .string()
        .transform((text, ctx) => {
          const asked = [
            ...new Set(
              text
                .split(',')
                .map((s) => s.trim())
                .filter((s) => s !== ''),
            ),
          ];
          const unknown = asked.filter((name) => !names.includes(name));
          if (unknown.length > 0) {
            ctx.addIssue({
              code: 'custom',
              message: `unknown metric ${unknown.join(', ')}; known: ${names.join(', ')}`,
            });
            return z.NEVER;
          }
          return asked;
        })
        .optional()
        .openapi({
          param: { name: 'metrics', in: 'query' },
          description: `Comma-separated metric names; default all of them: ${names.join(', ')}.`,
          example: 'cpu_percent,memory_used_bytes',
        }),
    })
    .superRefine((q, ctx) => {
      if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
        ctx.addIssue({ code: 'custom', path: ['from'], message: 'must be before `to`' });
      }
    });
};

/** A metrics series as the API answers it: what it holds (range, step, tier, metrics and units) and the points. */
export const seriesResponseSchema = (subject: Subject) =>
  z
    .object({
      [`${subject}_id`]: z.guid(),
      from: z
        .string()
        .openapi({ description: 'Start of the first step (from, moved back to a whole step), RFC 3339.' }),
      to: z.string().openapi({ description: 'End of the range (exclusive), RFC 3339.' }),
      step_seconds: z.number().openapi({
        description: 'Spacing of the points; each point starts a whole step since the unix epoch.',
      }),
      tier: z.enum(['raw', '1m', '1h']).openapi({
        description:
          'Where the points were read: raw samples, 1-minute or 1-hour rollups (the coarsest no wider than the step among those still holding `from`).',
      }),
      resolution_seconds: z
        .number()
        .openapi({ description: 'Width of the tier’s buckets (raw: the agents’ sampling period).' }),
      series: z.array(
        z.object({
          metric: z.string(),
          unit: z.enum(UNITS),
          description: z.string(),
          points: z
            .array(
              z.object({
                t: z.string().openapi({ description: 'Start of the step, RFC 3339.' }),
                avg: z
                  .number()
                  .nullable()
                  .openapi({ description: 'Average over the step (null: no value).' }),
                max: z
                  .number()
                  .nullable()
                  .openapi({ description: 'Maximum over the step (null: no value).' }),
              }),
            )
            .openapi({
              description:
                'One point per step that holds samples, oldest first; steps without any are left out.',
            }),
        }),
      ),
    })
    .openapi(`${subject === 'vm' ? 'Vm' : 'Host'}MetricSeries`);

/** A Series as the API spells it. */
export function seriesBody(subject: Subject, id: string, s: Series) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    [`${subject}_id`]: id,
    from: iso(s.fromMs),
    to: iso(s.toMs),
    step_seconds: s.stepMs / 1000,
    tier: s.tier,
    resolution_seconds: s.resolutionMs / 1000,
    series: s.metrics.map((m, i) => ({
      metric: m.name,
      unit: m.unit,
      description: m.description,
      points: s.points.flatMap((p) => {
        const v = p.values[i];
        return v === undefined || (v.avg === null && v.max === null)
          ? []
          : [{ t: iso(p.atMs), avg: v.avg, max: v.max }];
      }),
    })),
  };
}
