import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { BEARER_SECURITY, requireRole } from '../auth/require-role.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses } from '../http/error-envelope.ts';
import { listVms, VM_STATES } from '../store/vms.ts';

export const VmSchema = z
  .object({
    id: z.uuid().openapi({ description: 'The libvirt domain UUID; it stays the same across hosts.' }),
    host_id: z.uuid(),
    name: z.string(),
    state: z.enum(VM_STATES),
    vcpus: z.number().int(),
    memory_mib: z.number().int(),
    updated_at: z.iso.datetime(),
  })
  .openapi('Vm');

const route = createRoute({
  method: 'get',
  path: '/api/v1/vms',
  tags: ['vms'],
  summary: 'List the virtual machines of the cluster',
  security: BEARER_SECURITY,
  middleware: [requireRole('viewer')] as const,
  request: {
    query: z.object({
      host_id: z.uuid().optional().openapi({ description: 'Only the VMs on this host' }),
      state: z.enum(VM_STATES).optional().openapi({ description: 'Only the VMs in this state' }),
    }),
  },
  responses: {
    200: {
      description: 'The VMs, by name',
      content: { 'application/json': { schema: z.object({ vms: z.array(VmSchema) }) } },
    },
    ...errorResponses('validation_failed', 'unauthorized', 'forbidden'),
  },
});

export function registerV1VmsList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { host_id, state } = c.req.valid('query');
    return c.json({ vms: await listVms(c.var.services.sql, { hostId: host_id, state }) }, 200);
  });
}
