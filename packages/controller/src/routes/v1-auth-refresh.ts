import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { annotateAudit } from '../audit/audit-middleware.ts';
import { isAuthError, toApiError } from '../auth/auth-errors.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses, JSON_BODY_ERRORS } from '../http/error-envelope.ts';
import { TokenResponseSchema } from './auth-schemas.ts';

const RefreshRequestSchema = z
  .object({ refresh_token: z.string().min(1, 'is required').max(512, 'must be at most 512 characters') })
  .openapi('RefreshRequest');

const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/refresh',
  tags: ['auth'],
  summary: 'Trade a refresh token for a new access token and refresh token',
  description:
    'Refresh tokens rotate: each is good for one use and the answer carries its successor. Presenting ' +
    'a refresh token that was already used revokes every token of its session (RFC 9700 §4.14.2) and ' +
    'answers 401. There is no grace period: a client that lost a refresh response (network error, ' +
    'crash) cannot retry with the old token: that retry is reuse, it ends the session, and the ' +
    'client logs in again. A grace window would let a thief who raced the client keep a live token.',
  request: { body: { required: true, content: { 'application/json': { schema: RefreshRequestSchema } } } },
  responses: {
    200: {
      description: 'A new token pair.',
      content: { 'application/json': { schema: TokenResponseSchema } },
    },
    ...errorResponses('validation_failed', 'unauthorized', ...JSON_BODY_ERRORS),
  },
});

export function registerV1AuthRefresh(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { refresh_token } = c.req.valid('json');

    try {
      const { tokens, user } = await c.var.services.auth.refresh(refresh_token);
      annotateAudit(c, { actorId: user.id, actorUsername: user.username, target: `user:${user.id}` });
      return c.json(tokens, 200);
    } catch (err) {
      if (isAuthError(err)) throw toApiError(err);
      throw err;
    }
  });
}
