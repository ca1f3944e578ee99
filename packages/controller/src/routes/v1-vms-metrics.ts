import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { seriesBody, seriesQuerySchema, seriesResponseSchema } from '../metrics/metric-series-schema.ts';
import { resourceIdParams } from './resource-id-params.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/vms/{id}/metrics',
  operationId: 'getVmMetrics',
  tags: ['vms'],
  summary: 'Performance series of one virtual machine',
  description:
    'Averages and maxima per step between `from` and `to`, read from raw samples (kept 24 h by default), ' +
    '1-minute rollups (7 days) or 1-hour rollups (90 days), whichever fits the step and the range. At most ' +
    '11,000 points per request (`too_many_points` otherwise).',
  request: { params: resourceIdParams('VM'), query: seriesQuerySchema('vm') },
  responses: { 200: jsonResponse('The series.', seriesResponseSchema('vm')) },
  errors: ['not_found', 'too_many_points'],
});

export function registerV1VmsMetrics(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const query = c.req.valid('query');
    const series = await c.var.services.metrics.series({
      subject: 'vm',
      id,
      fromMs: query.from,
      toMs: query.to,
      stepMs: query.step,
      metrics: query.metrics ?? [],
    });
    return c.json(seriesBody('vm', id, series), 200);
  });
}
