import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { annotateAudit } from '../audit/audit-middleware.ts';
import { isAuthError, toApiError } from '../auth/auth-errors.ts';
import { clientAddress } from '../auth/client-address.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses, JSON_BODY_ERRORS } from '../http/error-envelope.ts';
import { TokenResponseSchema } from './auth-schemas.ts';

const LoginRequestSchema = z
  .object({
    // Not held to the username pattern: a malformed name is just a failed login, like an unknown one.
    username: z.string().min(1, 'is required').max(256, 'must be at most 256 characters'),
    password: z.string().min(1, 'is required').max(1024, 'must be at most 1024 characters'),
  })
  .openapi('LoginRequest');

const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/login',
  tags: ['auth'],
  summary: 'Log in with a username and password',
  description:
    'Returns an access token (`token`, a JWT valid `expires_in` seconds) and a one-use refresh token. ' +
    'Failed logins are throttled per client address, per username and per address+username pair: ' +
    'a throttled attempt gets 429 with `Retry-After` and is not counted.',
  request: { body: { required: true, content: { 'application/json': { schema: LoginRequestSchema } } } },
  responses: {
    200: { description: 'Logged in.', content: { 'application/json': { schema: TokenResponseSchema } } },
    ...errorResponses('validation_failed', 'unauthorized', 'too_many_requests', ...JSON_BODY_ERRORS),
  },
});

export function registerV1AuthLogin(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { username, password } = c.req.valid('json');
    annotateAudit(c, { actorUsername: username });
    try {
      const { tokens, user } = await c.var.services.auth.login({
        username,
        password,
        clientAddress: clientAddress(c),
      });
      annotateAudit(c, { actorId: user.id, target: `user:${user.id}` });
      return c.json(tokens, 200);
    } catch (err) {
      if (isAuthError(err)) throw toApiError(err);
      throw err;
    }
  });
}
