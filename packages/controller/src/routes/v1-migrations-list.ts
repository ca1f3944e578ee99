import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { MIGRATION_STATUSES, MigrationSchema } from '../migrations/migration-schema.ts';
import { integerQueryOr } from './integer-query.ts';
import { uuidQuery } from './resource-id-params.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/migrations',
  operationId: 'listMigrations',
  tags: ['migrations'],
  summary: 'Live migrations, newest first',
  description: 'Pass `next_before` as `before` for the next page.',
  request: {
    query: z.object({
      vm_id: uuidQuery('VM').openapi({ description: 'Only the migrations of this VM' }),
      host_id: uuidQuery('host').openapi({ description: 'Only the migrations from or to this host' }),
      status: z.enum(MIGRATION_STATUSES).optional(),
      limit: integerQueryOr('limit', 50, { min: 1, max: 500, description: 'Page size (1 to 500)' }),
      before: uuidQuery('migration').openapi({ description: 'Migrations older than this one' }),
    }),
  },
  responses: {
    200: jsonResponse(
      'A page of migrations.',
      z.object({ migrations: z.array(MigrationSchema), next_before: z.guid().nullable() }),
    ),
  },
});

export function registerV1MigrationsList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { vm_id, host_id, status, limit, before } = c.req.valid('query');
    const page = await c.var.services.migrations.list(
      { vmId: vm_id, hostId: host_id, status },
      { limit, before },
    );
    return c.json({ migrations: page.migrations, next_before: page.nextBefore }, 200);
  });
}
