import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { OPERATION_KINDS, OPERATION_STATUSES, OperationSchema } from '../operations/operation-schema.ts';
import { integerQueryOr } from './integer-query.ts';
import { uuidQuery } from './resource-id-params.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/operations',
  operationId: 'listOperations',
  tags: ['operations'],
  summary: 'Operations, newest first',
  description: 'Pass `next_before` as `before` for the next page.',
  request: {
    query: z.object({
      vm_id: uuidQuery('VM').openapi({ description: 'Only the operations on this VM' }),
      host_id: uuidQuery('host').openapi({ description: 'Only the operations on this host' }),
      status: z.enum(OPERATION_STATUSES).optional(),
      kind: z.enum(OPERATION_KINDS).optional(),
      limit: integerQueryOr('limit', 50, { min: 1, max: 500, description: 'Page size (1 to 500)' }),
      before: uuidQuery('operation').openapi({ description: 'Operations older than this one' }),
    }),
  },
  responses: {
    200: jsonResponse(
      'A page of operations.',
      z.object({ operations: z.array(OperationSchema), next_before: z.guid().nullable() }),
    ),
  },
});

export function registerV1OperationsList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { vm_id, host_id, status, kind, limit, before } = c.req.valid('query');
    const page = await c.var.services.operations.list(
      { vmId: vm_id, hostId: host_id, status, kind },
      { limit, before },
    );
    return c.json({ operations: page.operations, next_before: page.nextBefore }, 200);
  });
}
