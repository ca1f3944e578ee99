import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { UserSchema } from '../users/user-schema.ts';

const route = authedRoute('admin', {
  method: 'get',
  path: '/api/v1/users',
  operationId: 'listUsers',
  tags: ['users'],
  summary: 'List users (admins only)',
  responses: {
    200: jsonResponse('Every user, by username.', z.object({ users: z.array(UserSchema) })),
  },
});

export function registerV1UsersList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => c.json({ users: await c.var.services.users.list() }, 200));
}
