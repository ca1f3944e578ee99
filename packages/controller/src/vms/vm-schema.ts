import { z } from 'zod';

/**
 * libvirt's domain states in snake_case, as `virsh` and the agent protocol name them (`shut_off`). The
 * `vms.state` CHECK lists the same values (src/database/check-constraints.test.ts holds them together),
 * and the proto mapping (src/vms/vm-record.ts) covers each.
 */
export const VM_STATES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shut_off',
  'crashed',
  'pmsuspended',
] as const;
export type VmState = (typeof VM_STATES)[number];

/** A VM as the API shows it; `id` is the libvirt domain UUID. */
export const VmSchema = z
  .object({
    id: z.guid().meta({ description: 'The libvirt domain UUID; it stays the same across hosts.' }),
    host_id: z.guid(),
    name: z.string(),
    state: z.enum(VM_STATES),
    state_reason: z
      .string()
      .meta({ description: "libvirt's reason for the state, snake_case (`booted`, `user`, `crashed`, …)." }),
    vcpus: z.number().int(),
    memory_mib: z.number().int(),
    max_memory_mib: z.number().int().nullable(),
    persistent: z.boolean(),
    autostart: z.boolean(),
    stale: z.boolean().meta({
      description:
        "The host's agent is not connected: this is the last state it reported, as of `confirmed_at`.",
    }),
    confirmed_at: z.iso
      .datetime()
      .nullable()
      .meta({ description: "When the host's agent last confirmed this record." }),
    conflict: z
      .object({ host_ids: z.array(z.guid()) })
      .nullable()
      .meta({
        description:
          'Other hosts that report a VM with this id too (outside a migration): it may be running twice. ' +
          'Never merged; null when no other host reports it.',
      }),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'Vm' });

export type VmView = z.infer<typeof VmSchema>;
