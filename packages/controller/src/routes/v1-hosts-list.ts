import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { HostSchema } from '../hosts/host-schema.ts';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute } from '../http/define-route.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/hosts',
  operationId: 'listHosts',
  tags: ['hosts'],
  summary: 'List the hypervisor hosts',
  responses: {
    200: {
      description: 'Every host, by hostname',
      content: { 'application/json': { schema: z.object({ hosts: z.array(HostSchema) }) } },
    },
  },
});

export function registerV1HostsList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => c.json({ hosts: await c.var.services.hosts.list() }, 200));
}
