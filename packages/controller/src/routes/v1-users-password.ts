import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { PresentedPasswordSchema } from '../auth/auth-schema.ts';
import type { AppEnv, AuthedEnv } from '../http/app-env.ts';
import { authedRoute, jsonBody } from '../http/define-route.ts';
import { NewPasswordSchema } from '../users/user-schema.ts';
import { checkMaySetPassword } from '../users/user-service.ts';
import { UserIdParamsSchema } from './user-id-params.ts';

const ChangePasswordSchema = z
  .strictObject({
    password: NewPasswordSchema,
    current_password: PresentedPasswordSchema.optional().openapi({
      description: 'Required when changing your own password without the admin role.',
    }),
  })
  .openapi('ChangePasswordRequest');

// The service's own rule, checked again before the body is validated: someone else's password is
// 403 whatever the body holds.
const selfOrAdmin: MiddlewareHandler<AuthedEnv> = async (c, next) => {
  checkMaySetPassword(c.var.caller.principal, c.req.param('id') ?? '');
  await next();
};

const route = authedRoute('viewer', {
  method: 'put',
  path: '/api/v1/users/{id}/password',
  operationId: 'setUserPassword',
  tags: ['users'],
  summary: 'Set a user’s password',
  description:
    'Admins set anyone’s password. Any user may change their own by also sending `current_password` ' +
    '(wrong: 403; checks are throttled like logins: 429 with `Retry-After`). ' +
    'Either way every refresh token of that user is revoked: other sessions end when their access token expires.',
  middleware: [selfOrAdmin],
  request: {
    params: UserIdParamsSchema,
    body: jsonBody(ChangePasswordSchema),
  },
  responses: { 204: { description: 'Changed.' } },
  errors: ['not_found', 'too_many_requests'],
});

export function registerV1UsersPassword(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { password, current_password } = c.req.valid('json');
    await c.var.services.users.setPassword(c.var.caller, c.req.valid('param').id, {
      password,
      currentPassword: current_password,
    });
    return c.body(null, 204);
  });
}
