import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonBody, jsonResponse } from '../http/define-route.ts';
import { NewPasswordSchema, RoleSchema, UsernameSchema, UserSchema } from '../users/user-schema.ts';

const CreateUserSchema = z
  .strictObject({ username: UsernameSchema, password: NewPasswordSchema, role: RoleSchema })
  .openapi('CreateUserRequest');

const route = authedRoute('admin', {
  method: 'post',
  path: '/api/v1/users',
  operationId: 'createUser',
  tags: ['users'],
  summary: 'Create a user (admins only)',
  request: { body: jsonBody(CreateUserSchema) },
  responses: {
    201: jsonResponse('Created.', UserSchema),
  },
  errors: ['conflict'],
});

export function registerV1UsersCreate(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(await c.var.services.users.create(c.var.caller, c.req.valid('json')), 201),
  );
}
