import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { VmSchema } from '../vms/vm-schema.ts';
import { resourceIdParams } from './resource-id-params.ts';

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/vms/{id}',
  operationId: 'getVm',
  tags: ['vms'],
  summary: 'One virtual machine',
  request: { params: resourceIdParams('VM') },
  responses: { 200: jsonResponse('The VM.', VmSchema) },
  errors: ['not_found'],
});

export function registerV1VmsGet(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => c.json(await c.var.services.vms.get(c.req.valid('param').id), 200));
}
