import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { UserSchema } from '../users/user-schema.ts';
import { UserIdParamsSchema } from './user-id-params.ts';

const route = authedRoute('admin', {
  method: 'post',
  path: '/api/v1/users/{id}/disable',
  operationId: 'disableUser',
  tags: ['users'],
  summary: 'Disable a user (admins only)',
  description:
    'A disabled user cannot log in or refresh; their refresh tokens are revoked and their access ' +
    'tokens are refused from the next request on. You cannot disable yourself or the last enabled admin (409).',
  request: { params: UserIdParamsSchema },
  responses: {
    200: jsonResponse('Disabled (or already was).', UserSchema),
  },
  errors: ['not_found', 'conflict'],
});

export function registerV1UsersDisable(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(await c.var.services.users.disable(c.var.caller, c.req.valid('param').id), 200),
  );
}
