import { z } from 'zod';

/**
 * What a long-running thing is: a power action, or a live migration (`vm.migrate`, whose details are
 * in the migrations table under the same id). The `operations.kind` CHECK lists the same values
 * (src/database/check-constraints.test.ts holds them together).
 */
export const OPERATION_KINDS = [
  'vm.start',
  'vm.stop',
  'vm.force_stop',
  'vm.restart',
  'vm.reset',
  'vm.pause',
  'vm.resume',
  'vm.migrate',
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

/** pending: recorded, not started; running: the agent took it; then one of the final three. */
export const OPERATION_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

export const FINAL_OPERATION_STATUSES: ReadonlySet<OperationStatus> = new Set([
  'succeeded',
  'failed',
  'cancelled',
]);

export const OperationSchema = z
  .object({
    id: z.guid(),
    kind: z.enum(OPERATION_KINDS),
    status: z.enum(OPERATION_STATUSES),
    vm_id: z.guid().nullable(),
    host_id: z.guid().nullable(),
    progress: z.record(z.string(), z.unknown()).nullable(),
    error: z
      .object({
        code: z.string().meta({
          description:
            "Stable: libvirt's error code name when libvirt refused (`OPERATION_INVALID`), else the " +
            "agent's or the controller's own (`vm_not_found`, `deadline_exceeded`, `interrupted`, " +
            '`shutdown_timeout` and `reboot_timeout` of a graceful stop or restart, `reboot_unconfirmed` ' +
            "when the agent lost libvirt's events while a restart waited, `superseded` when a " +
            'forced one overruled it, …).',
        }),
        message: z.string(),
      })
      .nullable(),
    requested_by: z.guid().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    finished_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Operation' });

export type OperationView = z.infer<typeof OperationSchema>;
