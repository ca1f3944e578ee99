import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { annotateAudit } from '../audit/audit-middleware.ts';
import { BEARER_SECURITY, requireRole } from '../auth/require-role.ts';
import { ApiError } from '../http/api-error.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses } from '../http/error-envelope.ts';
import { changeUnlessLastAdmin, findUserById } from '../users/user-store.ts';
import { UserIdParamsSchema, UserSchema, userJson } from './auth-schemas.ts';

const route = createRoute({
  method: 'post',
  path: '/api/v1/users/{id}/disable',
  tags: ['users'],
  summary: 'Disable a user (admins only)',
  description:
    'A disabled user cannot log in or refresh; their refresh tokens are revoked and their access ' +
    'tokens are refused from the next request on. You cannot disable yourself or the last enabled admin (409).',
  security: BEARER_SECURITY,
  middleware: [requireRole('admin')] as const,
  request: { params: UserIdParamsSchema },
  responses: {
    200: {
      description: 'Disabled (or already was).',
      content: { 'application/json': { schema: UserSchema } },
    },
    ...errorResponses('validation_failed', 'unauthorized', 'forbidden', 'not_found', 'conflict'),
  },
});

export function registerV1UsersDisable(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const { sql, auth, clock } = c.var.services;
    annotateAudit(c, { target: `user:${id}` });
    if (id === c.var.principal.userId) throw new ApiError('conflict', 'you cannot disable yourself');
    const outcome = await changeUnlessLastAdmin(sql, id, 'disable', clock.now());
    if (outcome === 'not_found') throw new ApiError('not_found', 'no such user');
    if (outcome === 'last_admin') throw new ApiError('conflict', 'cannot disable the last enabled admin');
    await auth.revokeSessions(id, 'disabled');
    const user = await findUserById(sql, id);
    if (user === null) throw new ApiError('not_found', 'no such user');
    return c.json(userJson(user), 200);
  });
}
