import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { ApiError } from '../http/api-error.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses } from '../http/error-envelope.ts';
import { schemaStatus } from '../store/migrate.ts';

// A probe that hangs is as bad as one that fails: readiness answers within this bound.
const READY_TIMEOUT_MS = 2000;

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['health'],
  summary: 'Liveness: the process serves HTTP',
  responses: {
    200: {
      description: 'Alive',
      content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
    },
  },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['health'],
  summary: 'Readiness: the database answers and its schema is current',
  responses: {
    200: {
      description: 'Ready',
      content: { 'application/json': { schema: z.object({ status: z.literal('ready') }) } },
    },
    ...errorResponses('service_unavailable'),
  },
});

export function registerHealth(app: OpenAPIHono<AppEnv>): void {
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));

  app.openapi(readyz, async (c) => {
    const { sql, log } = c.var.services;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
    });
    try {
      const schema = await Promise.race([schemaStatus(sql), timeout]);
      if (!schema.current) {
        throw new ApiError('service_unavailable', 'database schema is not current', {
          details: { database: 'ok', pendingMigrations: schema.pending },
        });
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      log.warn({ err }, 'readiness check: database unreachable');
      throw new ApiError('service_unavailable', 'database unreachable', {
        details: { database: 'unreachable' },
      });
    } finally {
      clearTimeout(timer);
    }
    return c.json({ status: 'ready' as const }, 200);
  });
}
