import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { MigrationSchema } from '../migrations/migration-schema.ts';
import { resourceIdParams } from './resource-id-params.ts';

const route = authedRoute('operator', {
  method: 'post',
  path: '/api/v1/migrations/{id}/force-complete',
  operationId: 'forceCompleteMigration',
  tags: ['migrations'],
  summary: 'Force a migration that does not converge to complete by switching to post-copy',
  description:
    'As Nova’s force-complete: libvirt’s post-copy start, after which the VM runs on the destination ' +
    'and the rest of its memory follows. Allowed while the migration is `migrating`, when it was started ' +
    'with `allow_post_copy`, and no cancel was asked for; else 409 `force_complete_not_allowed`.',
  request: { params: resourceIdParams('migration') },
  responses: { 202: jsonResponse('The request was recorded.', MigrationSchema) },
  errors: ['not_found', 'force_complete_not_allowed'],
});

export function registerV1MigrationsForceComplete(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(await c.var.services.migrations.forceComplete(c.var.caller, c.req.valid('param').id), 202),
  );
}
