import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonBody, jsonResponse } from '../http/define-route.ts';
import { FINAL_OPERATION_STATUSES, OperationSchema } from '../operations/operation-schema.ts';
import { DEFAULT_GRACEFUL_TIMEOUT_S, MAX_GRACEFUL_TIMEOUT_S, VM_ACTIONS } from '../vms/vm-power.ts';
import { resourceIdParams, waitQuery } from './resource-id-params.ts';

const isGraceful = (body: { action: string; force: boolean }) =>
  (body.action === 'stop' || body.action === 'restart') && !body.force;

const ActionSchema = z
  .strictObject({
    action: z.enum(VM_ACTIONS).meta({ example: 'stop' }),
    force: z
      .boolean()
      .default(false)
      .meta({
        description:
          'stop: pull the plug instead of a graceful shutdown; restart: reset instead of reboot. Either ' +
          'also cancels a graceful stop or restart still waiting for the guest (a reset: a restart only).',
      }),
    timeout_s: z
      .number()
      .int()
      .min(1)
      .max(MAX_GRACEFUL_TIMEOUT_S)
      .optional()
      .meta({
        description:
          `Graceful stop and restart only: how long the guest has, in seconds (default ${DEFAULT_GRACEFUL_TIMEOUT_S}). ` +
          'A stop succeeds once the VM is off, a restart once the guest rebooted; when it has not by then, ' +
          'the operation fails with `shutdown_timeout` or `reboot_timeout` and the VM is left as it is ' +
          '(unless `force_after_timeout`).',
      }),
    force_after_timeout: z
      .boolean()
      .optional()
      .meta({
        description:
          'Graceful stop and restart only: when the guest has not done it within `timeout_s`, pull the plug ' +
          '(stop: the VM’s `state_reason` then says `destroyed`) or reset it (restart) instead, and ' +
          'succeed, as Nova does and Proxmox’s `forceStop`.',
      }),
  })
  .refine((body) => !body.force || body.action === 'stop' || body.action === 'restart', {
    message: 'force applies to stop and restart only',
    path: ['force'],
  })
  .refine((body) => body.timeout_s === undefined || isGraceful(body), {
    message: 'timeout_s applies to a graceful stop or restart only (without force)',
    path: ['timeout_s'],
  })
  .refine((body) => body.force_after_timeout === undefined || isGraceful(body), {
    message: 'force_after_timeout applies to a graceful stop or restart only (without force)',
    path: ['force_after_timeout'],
  })
  .meta({ id: 'VmAction', example: { action: 'stop', force: true } });

/** The operation, with its id also as `operation_id` (like the seed's `migration_id`). */
const ActionResponseSchema = OperationSchema.extend({ operation_id: z.guid() }).meta({
  id: 'VmActionOperation',
});

const route = authedRoute('operator', {
  method: 'post',
  path: '/api/v1/vms/{id}/action',
  operationId: 'actOnVm',
  tags: ['vms'],
  summary: 'Power action on a VM: start, stop (force: pull the plug), restart (force: reset), pause, resume',
  description:
    'Records an operation and sends the command to the VM’s host; answers 202 with the operation ' +
    '(`Location: /api/v1/operations/<id>`). With `?wait=<seconds>` it waits for the result: 200 with the ' +
    'final operation, or 202 when it is not done in time. A graceful stop succeeds once the guest ' +
    'powered off, a graceful restart once it rebooted (`timeout_s`); the others when the hypervisor ' +
    'carried them out.',
  request: {
    params: resourceIdParams('VM'),
    query: z.object({
      wait: waitQuery('200 with the final operation when it did, else 202 with it as it stands.'),
    }),
    body: jsonBody(ActionSchema),
  },
  responses: {
    200: jsonResponse('The operation finished within `wait`.', ActionResponseSchema),
    202: jsonResponse('The operation was accepted and runs.', ActionResponseSchema),
  },
  errors: [
    'not_found',
    'vm_not_running',
    'vm_already_running',
    'vm_not_paused',
    'vm_already_paused',
    'vm_paused',
    'host_disconnected',
    'operation_in_progress',
    'conflict',
  ],
});

export function registerV1VmsAction(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { services, caller } = c.var;
    const started = await services.vms.act(caller, c.req.valid('param').id, c.req.valid('json'));
    const { wait } = c.req.valid('query');
    const operation = wait > 0 ? await services.operations.wait(started.id, wait * 1000) : started;
    c.header('Location', `/api/v1/operations/${operation.id}`);
    const body = { ...operation, operation_id: operation.id };
    return FINAL_OPERATION_STATUSES.has(operation.status) ? c.json(body, 200) : c.json(body, 202);
  });
}
