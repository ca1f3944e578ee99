import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { UserSchema } from '../users/user-schema.ts';
import { UserIdParamsSchema } from './user-id-params.ts';

const route = authedRoute('admin', {
  method: 'post',
  path: '/api/v1/users/{id}/enable',
  operationId: 'enableUser',
  tags: ['users'],
  summary: 'Enable a disabled user (admins only)',
  request: { params: UserIdParamsSchema },
  responses: {
    200: jsonResponse('Enabled (or already was).', UserSchema),
  },
  errors: ['not_found'],
});

export function registerV1UsersEnable(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(await c.var.services.users.enable(c.var.caller, c.req.valid('param').id), 200),
  );
}
