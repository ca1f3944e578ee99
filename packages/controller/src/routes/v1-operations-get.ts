import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { OperationSchema } from '../operations/operation-schema.ts';
import { resourceIdParams, waitQuery } from './resource-id-params.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/operations/{id}',
  operationId: 'getOperation',
  tags: ['operations'],
  summary: 'One operation (a power action, later a migration): its status, progress and outcome',
  request: {
    params: resourceIdParams('operation'),
    query: z.object({
      wait: waitQuery(
        '200 with the operation either way, final or as it stands (its `status` says which); a GET of an ' +
          'operation that exists is never a 202.',
      ),
    }),
  },
  responses: { 200: jsonResponse('The operation (final, or as it stands after `wait`).', OperationSchema) },
  errors: ['not_found'],
});

export function registerV1OperationsGet(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const { wait } = c.req.valid('query');
    const { operations } = c.var.services;
    return c.json(wait > 0 ? await operations.wait(id, wait * 1000) : await operations.get(id), 200);
  });
}
