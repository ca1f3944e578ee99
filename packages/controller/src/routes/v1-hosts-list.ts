import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { BEARER_SECURITY, requireRole } from '../auth/require-role.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses } from '../http/error-envelope.ts';
import { listHosts } from '../store/hosts.ts';

export const HostSchema = z
  .object({
    id: z.uuid().openapi({ example: '019e0014-abcd-7057-b326-000000000001' }),
    hostname: z.string().openapi({ example: 'vapor-node-01.corp.awan.io' }),
    status: z.enum(['pending', 'connected', 'disconnected', 'maintenance']).openapi({ example: 'connected' }),
    sync_cursor: z.number().int().openapi({
      example: 1716999901,
      description: "The last of the agent's journal entries the controller applied.",
    }),
    cpus: z.number().int().nullable(),
    memory_mib: z.number().int().nullable(),
    last_seen_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .openapi('Host');

const route = createRoute({
  method: 'get',
  path: '/api/v1/hosts',
  tags: ['hosts'],
  summary: 'List the hypervisor hosts',
  security: BEARER_SECURITY,
  middleware: [requireRole('viewer')] as const,
  responses: {
    200: {
      description: 'Every host, by hostname',
      content: { 'application/json': { schema: z.object({ hosts: z.array(HostSchema) }) } },
    },
    ...errorResponses('unauthorized', 'forbidden'),
  },
});

export function registerV1HostsList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => c.json({ hosts: await listHosts(c.var.services.sql) }, 200));
}
