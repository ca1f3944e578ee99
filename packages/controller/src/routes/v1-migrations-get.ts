import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { MigrationSchema } from '../migrations/migration-schema.ts';
import { resourceIdParams } from './resource-id-params.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/migrations/{id}',
  operationId: 'getMigration',
  tags: ['migrations'],
  summary: 'One migration: its status, progress (libvirt’s job statistics), timestamps and error',
  request: { params: resourceIdParams('migration') },
  responses: { 200: jsonResponse('The migration.', MigrationSchema) },
  errors: ['not_found'],
});

export function registerV1MigrationsGet(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => c.json(await c.var.services.migrations.get(c.req.valid('param').id), 200));
}
