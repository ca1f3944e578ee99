import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { UserSchema } from '../users/user-schema.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/me',
  operationId: 'getMe',
  tags: ['users'],
  summary: 'Who am I: the user the bearer token belongs to, with their current role',
  responses: {
    200: jsonResponse('The caller.', UserSchema),
  },
});

export function registerV1MeGet(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const caller = c.var.caller;
    return c.json(await c.var.services.users.get(caller, caller.principal.userId), 200);
  });
}
