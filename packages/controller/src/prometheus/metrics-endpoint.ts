import { createHash, timingSafeEqual } from 'node:crypto';
import { PROMETHEUS_CONTENT_TYPE } from '@cockpit/proto';
import { Hono } from 'hono';
import type { Services } from '../create-services.ts';
import { renderControllerMetrics } from './controller-exposition.ts';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * GET /metrics in Prometheus text format, as its own small app: mounted on the REST API's listener or
 * served on its own address (COCKPIT_METRICS_LISTEN). Like other exporters it needs no login; with
 * COCKPIT_METRICS_TOKEN every request must carry it as a bearer (compared in constant time), as the
 * agent's /metrics does.
 */
export function createMetricsApp(services: Services): Hono {
  const { token } = services.config.metrics;
  const expected = token === undefined ? undefined : digest(`Bearer ${token}`);
  const app = new Hono();
  app.on(['GET', 'HEAD'], '/metrics', async (c) => {
    if (expected !== undefined && !timingSafeEqual(digest(c.req.header('authorization') ?? ''), expected)) {
      return c.text('a bearer token is required\n', 401, {
        'www-authenticate': 'Bearer realm="cockpit-metrics"',
      });
    }
    const body = await renderControllerMetrics(services);
    return c.body(body, 200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
  });
  return app;
}
