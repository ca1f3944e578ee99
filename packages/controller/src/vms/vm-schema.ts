import { z } from 'zod';

/**
 * libvirt's domain states, lower-cased. The `vms.state` CHECK lists the same values
 * (src/database/check-constraints.test.ts holds them together).
 */
export const VM_STATES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
] as const;
export type VmState = (typeof VM_STATES)[number];

/** A VM as the API shows it; `id` is the libvirt domain UUID. */
export const VmSchema = z
  .object({
    id: z.uuid().meta({ description: 'The libvirt domain UUID; it stays the same across hosts.' }),
    host_id: z.uuid(),
    name: z.string(),
    state: z.enum(VM_STATES),
    vcpus: z.number().int(),
    memory_mib: z.number().int(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'Vm' });

export type VmView = z.infer<typeof VmSchema>;
