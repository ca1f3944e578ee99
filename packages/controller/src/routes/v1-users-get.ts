import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { UserSchema } from '../users/user-schema.ts';
import { UserIdParamsSchema } from './user-id-params.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/users/{id}',
  operationId: 'getUser',
  tags: ['users'],
  summary: 'Read one user (admins: anyone; others: themselves)',
  request: { params: UserIdParamsSchema },
  responses: {
    200: jsonResponse('The user.', UserSchema),
  },
  errors: ['not_found'],
});

export function registerV1UsersGet(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(await c.var.services.users.get(c.var.caller, c.req.valid('param').id), 200),
  );
}
