import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { annotateAudit } from '../audit/audit-middleware.ts';
import { BEARER_SECURITY, requireRole } from '../auth/require-role.ts';
import { ApiError } from '../http/api-error.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses, JSON_BODY_ERRORS } from '../http/error-envelope.ts';
import { createUser } from '../users/user-store.ts';
import { NewPasswordSchema, RoleSchema, UsernameSchema, UserSchema, userJson } from './auth-schemas.ts';

const CreateUserSchema = z
  .object({ username: UsernameSchema, password: NewPasswordSchema, role: RoleSchema })
  .openapi('CreateUserRequest');

const route = createRoute({
  method: 'post',
  path: '/api/v1/users',
  tags: ['users'],
  summary: 'Create a user (admins only)',
  security: BEARER_SECURITY,
  middleware: [requireRole('admin')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: CreateUserSchema } } } },
  responses: {
    201: { description: 'Created.', content: { 'application/json': { schema: UserSchema } } },
    ...errorResponses('validation_failed', 'unauthorized', 'forbidden', 'conflict', ...JSON_BODY_ERRORS),
  },
});

export function registerV1UsersCreate(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { username, password, role } = c.req.valid('json');
    const { sql, auth, clock } = c.var.services;
    annotateAudit(c, { target: `username:${username}` });
    const user = await createUser(sql, {
      username,
      passwordHash: await auth.hashPassword(password),
      role,
      now: clock.now(),
    });
    if (user === null) {
      throw new ApiError('conflict', `username "${username}" is taken`, {
        details: [{ path: 'body.username', message: 'is taken' }],
      });
    }
    annotateAudit(c, { target: `user:${user.id}` });
    return c.json(userJson(user), 201);
  });
}
