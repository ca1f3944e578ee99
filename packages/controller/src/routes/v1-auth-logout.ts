import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { annotateAudit } from '../audit/audit-middleware.ts';
import { BEARER_SECURITY, requireRole } from '../auth/require-role.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses, JSON_BODY_ERRORS } from '../http/error-envelope.ts';

const LogoutRequestSchema = z
  .object({ refresh_token: z.string().min(1, 'is required').max(512, 'must be at most 512 characters') })
  .openapi('LogoutRequest');

const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/logout',
  tags: ['auth'],
  summary: 'Log out: revoke the session of a refresh token',
  description:
    'Revokes the presented refresh token and every token rotated from the same login. The access ' +
    'token stays valid until it expires. Like token revocation (RFC 7009 §2.2), an unknown, already ' +
    'revoked or someone else’s refresh token still answers 204 and changes nothing.',
  security: BEARER_SECURITY,
  middleware: [requireRole('viewer')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: LogoutRequestSchema } } } },
  responses: {
    204: { description: 'Logged out.' },
    ...errorResponses('validation_failed', 'unauthorized', ...JSON_BODY_ERRORS),
  },
});

export function registerV1AuthLogout(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { refresh_token } = c.req.valid('json');
    const principal = c.var.principal;
    const revoked = await c.var.services.auth.logout(refresh_token, principal.userId);
    annotateAudit(c, { target: revoked ? `user:${principal.userId}` : undefined });
    return c.body(null, 204);
  });
}
