import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { VM_STATES, VmSchema } from '../vms/vm-schema.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/vms',
  tags: ['vms'],
  summary: 'List the virtual machines of the cluster',
  request: {
    query: z.object({
      host_id: z.uuid().optional().openapi({ description: 'Only the VMs on this host' }),
      state: z.enum(VM_STATES).optional().openapi({ description: 'Only the VMs in this state' }),
    }),
  },
  responses: {
    200: jsonResponse('The VMs, by name', z.object({ vms: z.array(VmSchema) })),
  },
});

export function registerV1VmsList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { host_id, state } = c.req.valid('query');
    return c.json({ vms: await c.var.services.vms.list({ hostId: host_id, state }) }, 200);
  });
}
