import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { schemaStatus } from '../database/migrate.ts';
import { ApiError } from '../http/api-error.ts';
import type { AppEnv } from '../http/app-env.ts';
import { jsonResponse, publicRoute } from '../http/define-route.ts';

// A probe that hangs is as bad as one that fails: readiness answers within this bound.
export const READY_TIMEOUT_MS = 2000;

const healthz = publicRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'checkLiveness',
  tags: ['health'],
  summary: 'Liveness: the process serves HTTP',
  responses: {
    200: jsonResponse('Alive', z.object({ status: z.literal('ok') })),
  },
  // Any request can be refused for its headers before a route sees it; probes included.
  errors: ['headers_too_large'],
});

const readyz = publicRoute({
  method: 'get',
  path: '/readyz',
  operationId: 'checkReadiness',
  tags: ['health'],
  summary: 'Readiness: the database answers and its schema is current',
  responses: {
    200: jsonResponse('Ready', z.object({ status: z.literal('ready') })),
  },
  errors: ['service_unavailable', 'headers_too_large'],
});

export function registerHealth(app: OpenAPIHono<AppEnv>): void {
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));

  app.openapi(readyz, async (c) => {
    const { sql, log } = c.var.services;
    // When the bound passes, the probe's query is cancelled on the server (so it gives its connection
    // back) and the answer does not wait for the cancel to land: PGlite, for one, ignores cancels.
    const deadline = new AbortController();
    const timedOut = new Promise<never>((_, reject) => {
      deadline.signal.addEventListener('abort', () =>
        reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)),
      );
    });
    const timer = setTimeout(() => deadline.abort(), READY_TIMEOUT_MS);
    let schema: Awaited<ReturnType<typeof schemaStatus>>;
    try {
      schema = await Promise.race([schemaStatus(sql, undefined, { signal: deadline.signal }), timedOut]);
    } catch (err) {
      log.warn({ err }, 'readiness check: database unreachable');
      throw new ApiError('service_unavailable', 'database unreachable', {
        details: { database: 'unreachable' },
      });
    } finally {
      clearTimeout(timer);
    }
    if (!schema.current) {
      throw new ApiError('service_unavailable', 'database schema is not current', {
        details: { database: 'ok', pendingMigrations: schema.pending },
      });
    }
    return c.json({ status: 'ready' as const }, 200);
  });
}
