import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { RequestDurations } from '../prometheus/request-durations.ts';

/**
 * Times every request into the /metrics histogram, labelled with the route pattern that answered
 * (`/api/v1/vms/:id`), or `unmatched` when none did (so probing random paths adds no label values).
 */
export function measureDurations(durations: RequestDurations): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route =
        matchedRoutes(c)
          .filter((r) => r.method !== 'ALL')
          .at(-1)?.path ?? 'unmatched';
      durations.observe(c.req.method, route, c.res.status, (performance.now() - started) / 1000);
    }
  };
}
