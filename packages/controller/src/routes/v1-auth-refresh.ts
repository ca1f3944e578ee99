import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { RefreshTokenSchema, TokenResponseSchema } from '../auth/auth-schema.ts';
import type { AppEnv } from '../http/app-env.ts';
import { jsonBody, jsonResponse, publicRoute } from '../http/define-route.ts';

const RefreshRequestSchema = z.strictObject({ refresh_token: RefreshTokenSchema }).openapi('RefreshRequest');

const route = publicRoute({
  method: 'post',
  path: '/api/v1/auth/refresh',
  operationId: 'refreshTokens',
  tags: ['auth'],
  summary: 'Trade a refresh token for a new access token and refresh token',
  description:
    'Refresh tokens rotate: each is good for one use and the answer carries its successor. Presenting ' +
    'a refresh token that was already used revokes every token of its session (RFC 9700 §4.14.2) and ' +
    'answers 401. There is no grace period: a client that lost a refresh response (network error, ' +
    'crash) cannot retry with the old token: that retry is reuse, it ends the session, and the ' +
    'client logs in again. A grace window would let a thief who raced the client keep a live token.',
  request: { body: jsonBody(RefreshRequestSchema) },
  responses: {
    200: jsonResponse('A new token pair.', TokenResponseSchema),
  },
  errors: ['unauthorized'],
  errorDescriptions: {
    unauthorized:
      'The refresh token is unknown, expired, revoked, or was already used (then its whole session is revoked). No bearer token is involved.',
  },
});

export function registerV1AuthRefresh(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { tokens } = await c.var.services.auth.refresh(c.var.caller, c.req.valid('json').refresh_token);
    return c.json(tokens, 200);
  });
}
