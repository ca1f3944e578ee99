import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { MigrationSchema } from '../migrations/migration-schema.ts';
import { resourceIdParams } from './resource-id-params.ts';

const route = authedRoute('operator', {
  method: 'post',
  path: '/api/v1/migrations/{id}/cancel',
  operationId: 'cancelMigration',
  tags: ['migrations'],
  summary: 'Cancel a migration: the VM keeps running on the source',
  description:
    'Records the request (`cancel_requested_at`) and answers 202; the coordinator ends a migration ' +
    'that has not started copying at once, and has the source abort a running libvirt job. It ends ' +
    '`cancelled`, or `completed` when the copy finished first. A migration in post-copy cannot be aborted.',
  request: { params: resourceIdParams('migration') },
  responses: { 202: jsonResponse('The cancel was recorded.', MigrationSchema) },
  errors: ['not_found', 'migration_finished'],
});

export function registerV1MigrationsCancel(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(await c.var.services.migrations.cancel(c.var.caller, c.req.valid('param').id), 202),
  );
}
