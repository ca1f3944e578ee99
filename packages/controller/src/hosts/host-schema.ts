import { z } from 'zod';

/**
 * A host's place in its life: pending (registered, never connected), connected / disconnected (its
 * agent's stream), maintenance (drained by an admin). The `hosts.status` CHECK lists the same values
 * (src/database/check-constraints.test.ts holds them together).
 */
export const HOST_STATUSES = ['pending', 'connected', 'disconnected', 'maintenance'] as const;
export type HostStatus = (typeof HOST_STATUSES)[number];

/** The agent's hypervisor driver; `simulated` is the demo's and the benchmarks'. The `hosts.driver` CHECK matches. */
export const HOST_DRIVERS = ['libvirt', 'simulated'] as const;
export type HostDriver = (typeof HOST_DRIVERS)[number];

/** A host as the API shows it (the seed's field names first). */
export const HostSchema = z
  .object({
    id: z.guid().meta({ example: '019e0014-abcd-7057-b326-000000000001' }),
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
    driver: z
      .enum(HOST_DRIVERS)
      .nullable()
      .meta({ description: '`simulated`: an in-memory hypervisor (demo, scale tests), not a real one.' }),
    agent_version: z.string().nullable(),
    hypervisor: z.string().nullable().meta({ example: 'QEMU 7.2.0' }),
    libvirt_version: z.string().nullable().meta({ example: '9.0.0' }),
    cpu_model: z.string().nullable(),
    host_uuid: z.string().nullable().meta({ description: "libvirt's host UUID." }),
    migration_uri: z
      .string()
      .nullable()
      .meta({ description: "The libvirt URI other hosts' libvirtd use to migrate VMs here." }),
    connected_at: z.iso.datetime().nullable(),
    disconnected_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Host' });

export type HostView = z.infer<typeof HostSchema>;
