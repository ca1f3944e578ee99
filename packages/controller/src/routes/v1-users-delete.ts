import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { annotateAudit } from '../audit/audit-middleware.ts';
import { BEARER_SECURITY, requireRole } from '../auth/require-role.ts';
import { ApiError } from '../http/api-error.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses } from '../http/error-envelope.ts';
import { changeUnlessLastAdmin } from '../users/user-store.ts';
import { UserIdParamsSchema } from './auth-schemas.ts';

const route = createRoute({
  method: 'delete',
  path: '/api/v1/users/{id}',
  tags: ['users'],
  summary: 'Delete a user (admins only)',
  description:
    'Deletes the user and their refresh tokens; their access tokens are refused from the next request on. ' +
    'Audit rows keep the username. You cannot delete yourself or the last enabled admin (409).',
  security: BEARER_SECURITY,
  middleware: [requireRole('admin')] as const,
  request: { params: UserIdParamsSchema },
  responses: {
    204: { description: 'Deleted.' },
    ...errorResponses('validation_failed', 'unauthorized', 'forbidden', 'not_found', 'conflict'),
  },
});

export function registerV1UsersDelete(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    annotateAudit(c, { target: `user:${id}` });
    if (id === c.var.principal.userId) throw new ApiError('conflict', 'you cannot delete yourself');
    const { sql, clock } = c.var.services;
    const outcome = await changeUnlessLastAdmin(sql, id, 'delete', clock.now());
    if (outcome === 'not_found') throw new ApiError('not_found', 'no such user');
    if (outcome === 'last_admin') throw new ApiError('conflict', 'cannot delete the last enabled admin');
    c.var.services.auth.userChanged(id);
    return c.body(null, 204);
  });
}
