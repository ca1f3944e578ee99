import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { PresentedPasswordSchema, TokenResponseSchema } from '../auth/auth-schema.ts';
import type { AppEnv } from '../http/app-env.ts';
import { jsonBody, jsonResponse, publicRoute } from '../http/define-route.ts';

const LoginRequestSchema = z
  .strictObject({
    // Not held to the username pattern: a malformed name is just a failed login, like an unknown one.
    username: z.string().min(1, 'is required').max(256, 'must be at most 256 characters'),
    password: PresentedPasswordSchema,
  })
  .openapi('LoginRequest');

const route = publicRoute({
  method: 'post',
  path: '/api/v1/auth/login',
  operationId: 'login',
  tags: ['auth'],
  summary: 'Log in with a username and password',
  description:
    'Returns an access token (`token`, a JWT valid `expires_in` seconds) and a one-use refresh token. ' +
    'Failed logins are throttled per client address, per username and per address+username pair: ' +
    'a throttled attempt gets 429 with `Retry-After` and is not counted.',
  request: { body: jsonBody(LoginRequestSchema) },
  responses: {
    200: jsonResponse('Logged in.', TokenResponseSchema),
  },
  errors: ['unauthorized', 'too_many_requests'],
  errorDescriptions: {
    unauthorized:
      'Wrong username or password (also for an unknown or disabled user, alike). No bearer token is involved.',
  },
});

export function registerV1AuthLogin(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { tokens } = await c.var.services.auth.login(c.var.caller, c.req.valid('json'));
    return c.json(tokens, 200);
  });
}
