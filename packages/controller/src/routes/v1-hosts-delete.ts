import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute } from '../http/define-route.ts';
import { resourceIdParams } from './resource-id-params.ts';

const route = authedRoute('admin', {
  method: 'delete',
  path: '/api/v1/hosts/{id}',
  operationId: 'deleteHost',
  tags: ['hosts'],
  summary: 'Delete a host (admins only): revokes its credential and ends its agent’s stream',
  description:
    'The host, its VMs and its pending commands are deleted; its unfinished operations fail. A live ' +
    'agent stream is told its credential is revoked and ends within a second, and the agent stops. ' +
    'To bring the host back, create a join token and start its agent with it again.',
  request: { params: resourceIdParams('host') },
  responses: { 204: { description: 'Deleted.' } },
  errors: ['not_found'],
});

export function registerV1HostsDelete(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await c.var.services.hosts.delete(c.var.caller, c.req.valid('param').id);
    return c.body(null, 204);
  });
}
