import { z } from 'zod';

/**
 * A host's place in its life: pending (registered, never connected), connected / disconnected (its
 * agent's stream), maintenance (drained by an admin). The `hosts.status` CHECK lists the same values
 * (src/database/check-constraints.test.ts holds them together).
 */
export const HOST_STATUSES = ['pending', 'connected', 'disconnected', 'maintenance'] as const;
export type HostStatus = (typeof HOST_STATUSES)[number];

/** A host as the API shows it (the seed's field names). */
export const HostSchema = z
  .object({
    id: z.uuid().meta({ example: '019e0014-abcd-7057-b326-000000000001' }),
    hostname: z.string().meta({ example: 'vapor-node-01.corp.awan.io' }),
    status: z.enum(HOST_STATUSES).meta({ example: 'connected' }),
    sync_cursor: z.number().int().meta({
      example: 1716999901,
      description: "The last of the agent's journal entries the controller applied.",
    }),
    cpus: z.number().int().nullable(),
    memory_mib: z.number().int().nullable(),
    last_seen_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'Host' });

export type HostView = z.infer<typeof HostSchema>;
