import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonBody, jsonResponse } from '../http/define-route.ts';
import { CreateJoinTokenSchema, JoinTokenSchema } from '../join-tokens/join-token-schema.ts';

const route = authedRoute('admin', {
  method: 'post',
  path: '/api/v1/hosts/join-tokens',
  operationId: 'createJoinToken',
  tags: ['hosts'],
  summary: 'Create a single-use join token for a new host (admins only)',
  description:
    'The agent redeems it once (gRPC `Join`) for the host’s own credential, which it keeps. The answer ' +
    'has the token (shown only here), its expiry, the CA fingerprint the agent pins and a ready-to-paste ' +
    '`cockpit-agent` command line.',
  request: { body: jsonBody(CreateJoinTokenSchema) },
  responses: { 201: jsonResponse('The token.', JoinTokenSchema) },
});

export function registerV1HostsJoinTokensCreate(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(await c.var.services.hosts.createJoinToken(c.var.caller, c.req.valid('json').ttl_seconds), 201),
  );
}
