import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { annotateAudit } from '../audit/audit-middleware.ts';
import { BEARER_SECURITY, requireRole } from '../auth/require-role.ts';
import { ApiError } from '../http/api-error.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses } from '../http/error-envelope.ts';
import { enableUser, findUserById } from '../users/user-store.ts';
import { UserIdParamsSchema, UserSchema, userJson } from './auth-schemas.ts';

const route = createRoute({
  method: 'post',
  path: '/api/v1/users/{id}/enable',
  tags: ['users'],
  summary: 'Enable a disabled user (admins only)',
  security: BEARER_SECURITY,
  middleware: [requireRole('admin')] as const,
  request: { params: UserIdParamsSchema },
  responses: {
    200: {
      description: 'Enabled (or already was).',
      content: { 'application/json': { schema: UserSchema } },
    },
    ...errorResponses('validation_failed', 'unauthorized', 'forbidden', 'not_found'),
  },
});

export function registerV1UsersEnable(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const { sql, clock } = c.var.services;
    annotateAudit(c, { target: `user:${id}` });
    if (!(await enableUser(sql, id, clock.now()))) throw new ApiError('not_found', 'no such user');
    c.var.services.auth.userChanged(id);
    const user = await findUserById(sql, id);
    if (user === null) throw new ApiError('not_found', 'no such user');
    return c.json(userJson(user), 200);
  });
}
