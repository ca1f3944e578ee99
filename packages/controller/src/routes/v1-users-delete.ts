import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute } from '../http/define-route.ts';
import { UserIdParamsSchema } from './user-id-params.ts';

const route = authedRoute('admin', {
  method: 'delete',
  path: '/api/v1/users/{id}',
  operationId: 'deleteUser',
  tags: ['users'],
  summary: 'Delete a user (admins only)',
  description:
    'Deletes the user and their refresh tokens; their access tokens are refused from the next request on. ' +
    'Audit rows keep the username. You cannot delete yourself or the last enabled admin (409).',
  request: { params: UserIdParamsSchema },
  responses: { 204: { description: 'Deleted.' } },
  errors: ['not_found', 'conflict'],
});

export function registerV1UsersDelete(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await c.var.services.users.delete(c.var.caller, c.req.valid('param').id);
    return c.body(null, 204);
  });
}
