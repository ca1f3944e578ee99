import type { OpenAPIHono } from '@hono/zod-openapi';
import { HostSchema } from '../hosts/host-schema.ts';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { resourceIdParams } from './resource-id-params.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/hosts/{id}',
  operationId: 'getHost',
  tags: ['hosts'],
  summary: 'One hypervisor host',
  request: { params: resourceIdParams('host') },
  responses: { 200: jsonResponse('The host.', HostSchema) },
  errors: ['not_found'],
});

export function registerV1HostsGet(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => c.json(await c.var.services.hosts.get(c.req.valid('param').id), 200));
}
