import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { RefreshTokenSchema } from '../auth/auth-schema.ts';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonBody } from '../http/define-route.ts';

const LogoutRequestSchema = z.strictObject({ refresh_token: RefreshTokenSchema }).openapi('LogoutRequest');

const route = authedRoute('viewer', {
  method: 'post',
  path: '/api/v1/auth/logout',
  operationId: 'logout',
  tags: ['auth'],
  summary: 'Log out: revoke the session of a refresh token',
  description:
    'Revokes the presented refresh token and every token rotated from the same login. The access ' +
    'token stays valid until it expires. Like token revocation (RFC 7009 §2.2), an unknown, already ' +
    'revoked or someone else’s refresh token still answers 204 and changes nothing.',
  request: { body: jsonBody(LogoutRequestSchema) },
  responses: { 204: { description: 'Logged out.' } },
});

export function registerV1AuthLogout(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await c.var.services.auth.logout(c.var.caller, c.req.valid('json').refresh_token);
    return c.body(null, 204);
  });
}
