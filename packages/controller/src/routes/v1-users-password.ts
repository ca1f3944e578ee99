import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { annotateAudit } from '../audit/audit-middleware.ts';
import { isAuthError, toApiError } from '../auth/auth-errors.ts';
import { clientAddress } from '../auth/client-address.ts';
import { BEARER_SECURITY, requireRole } from '../auth/require-role.ts';
import { ApiError } from '../http/api-error.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses, JSON_BODY_ERRORS } from '../http/error-envelope.ts';
import { findUserById, setPasswordHash } from '../users/user-store.ts';
import { NewPasswordSchema, UserIdParamsSchema } from './auth-schemas.ts';

const ChangePasswordSchema = z
  .object({
    password: NewPasswordSchema,
    current_password: z
      .string()
      .min(1, 'is required')
      .max(1024, 'must be at most 1024 characters')
      .optional()
      .openapi({ description: 'Required when changing your own password without the admin role.' }),
  })
  .openapi('ChangePasswordRequest');

// Before the body is validated: someone else's password is 403 whatever the body holds.
const selfOrAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const principal = c.var.principal;
  if (principal.role !== 'admin' && principal.userId !== c.req.param('id')) {
    throw new ApiError('forbidden', 'only admins may set another user’s password');
  }
  await next();
};

const route = createRoute({
  method: 'put',
  path: '/api/v1/users/{id}/password',
  tags: ['users'],
  summary: 'Set a user’s password',
  description:
    'Admins set anyone’s password. Any user may change their own by also sending `current_password` ' +
    '(wrong: 403; checks are throttled like logins: 429 with `Retry-After`). ' +
    'Either way every refresh token of that user is revoked: other sessions end when their access token expires.',
  security: BEARER_SECURITY,
  middleware: [requireRole('viewer'), selfOrAdmin] as const,
  request: {
    params: UserIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: ChangePasswordSchema } } },
  },
  responses: {
    204: { description: 'Changed.' },
    ...errorResponses(
      'validation_failed',
      'unauthorized',
      'forbidden',
      'not_found',
      'too_many_requests',
      ...JSON_BODY_ERRORS,
    ),
  },
});

export function registerV1UsersPassword(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const { password, current_password } = c.req.valid('json');
    const { sql, auth, clock } = c.var.services;
    const principal = c.var.principal;
    annotateAudit(c, { target: `user:${id}` });
    const isAdmin = principal.role === 'admin';
    const user = await findUserById(sql, id);
    if (user === null) throw new ApiError('not_found', 'no such user');
    if (!isAdmin) {
      if (current_password === undefined) {
        throw new ApiError('validation_failed', 'current_password is required to change your own password', {
          details: [{ path: 'body.current_password', message: 'is required' }],
        });
      }
      let confirmed: boolean;
      try {
        confirmed = await auth.confirmPassword({
          username: user.username,
          passwordHash: user.passwordHash,
          password: current_password,
          clientAddress: clientAddress(c),
        });
      } catch (err) {
        if (isAuthError(err)) throw toApiError(err);
        throw err;
      }
      if (!confirmed) throw new ApiError('forbidden', 'current_password is wrong');
    }
    await setPasswordHash(sql, id, await auth.hashPassword(password), clock.now());
    await auth.revokeSessions(id, 'password_changed');
    return c.body(null, 204);
  });
}
