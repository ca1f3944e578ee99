import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { BEARER_SECURITY, requireRole } from '../auth/require-role.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses } from '../http/error-envelope.ts';
import { listUsers } from '../users/user-store.ts';
import { UserSchema, userJson } from './auth-schemas.ts';

const route = createRoute({
  method: 'get',
  path: '/api/v1/users',
  tags: ['users'],
  summary: 'List users (admins only)',
  security: BEARER_SECURITY,
  middleware: [requireRole('admin')] as const,
  responses: {
    200: {
      description: 'Every user, by username.',
      content: { 'application/json': { schema: z.object({ users: z.array(UserSchema) }) } },
    },
    ...errorResponses('unauthorized', 'forbidden'),
  },
});

export function registerV1UsersList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const users = await listUsers(c.var.services.sql);
    return c.json({ users: users.map(userJson) }, 200);
  });
}
