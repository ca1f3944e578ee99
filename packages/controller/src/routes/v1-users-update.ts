import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonBody, jsonResponse } from '../http/define-route.ts';
import { RoleSchema, UserSchema } from '../users/user-schema.ts';
import { UserIdParamsSchema } from './user-id-params.ts';

// The fields an admin may change here; a password has its own route (it needs its own checks).
const UpdateUserSchema = z.strictObject({ role: RoleSchema }).openapi('UpdateUserRequest');

const route = authedRoute('admin', {
  method: 'patch',
  path: '/api/v1/users/{id}',
  operationId: 'updateUser',
  tags: ['users'],
  summary: 'Change a user’s role (admins only)',
  description:
    'A changed role ends the user’s sessions and access tokens (they log in again with the new role). ' +
    'The last enabled admin cannot be demoted (409). The same role again changes nothing.',
  request: { params: UserIdParamsSchema, body: jsonBody(UpdateUserSchema) },
  responses: {
    200: jsonResponse('The user as it is now.', UserSchema),
  },
  errors: ['not_found', 'conflict'],
});

export function registerV1UsersUpdate(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(
      await c.var.services.users.setRole(c.var.caller, c.req.valid('param').id, c.req.valid('json').role),
      200,
    ),
  );
}
