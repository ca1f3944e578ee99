import { z } from 'zod';

/**
 * Where a migration stands. initiated: recorded, no agent asked yet; preparing: the destination readies
 * itself; migrating: the source's libvirt copies the VM; then one of the final three. The
 * `migrations.status` CHECK lists the same values (src/database/check-constraints.test.ts holds them
 * together).
 */
export const MIGRATION_STATUSES = [
  'initiated',
  'preparing',
  'migrating',
  'completed',
  'failed',
  'cancelled',
] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

export const UNFINISHED_MIGRATION_STATUSES = [
  'initiated',
  'preparing',
  'migrating',
] as const satisfies readonly MigrationStatus[];

export const FINAL_MIGRATION_STATUSES: ReadonlySet<MigrationStatus> = new Set([
  'completed',
  'failed',
  'cancelled',
]);

/** How the disks travel: `none` (shared storage), `all` (whole disks), `inc` (the top image only). */
export const COPY_STORAGE_MODES = ['none', 'all', 'inc'] as const;
export type CopyStorageMode = (typeof COPY_STORAGE_MODES)[number];

/** What a migration was asked to do: the seed's payload and the optional tuning. */
export interface MigrationOptions {
  live: boolean;
  persistent: boolean;
  undefine_source: boolean;
  copy_storage: CopyStorageMode;
  bandwidth_mibps: number;
  max_downtime_ms: number;
  auto_converge: boolean;
  compression: boolean;
  allow_post_copy: boolean;
  completion_timeout_s: number;
}

const bytes = (description: string) => z.number().int().min(0).meta({ description });

/** libvirt's job statistics as the source's agent reported them last (bytes unless said otherwise). */
export const MigrationProgressSchema = z
  .object({
    data_total: bytes('Memory and disks to copy in all.'),
    data_processed: bytes('Copied so far.'),
    data_remaining: bytes('Left to copy.'),
    memory_total: bytes('Guest memory.'),
    memory_processed: bytes('Memory copied so far (dirty pages count again).'),
    memory_remaining: bytes('Memory left to copy.'),
    memory_bps: bytes('Memory copy rate, bytes per second.'),
    elapsed_ms: bytes('Milliseconds since the migration started.'),
    downtime_ms: bytes('The pause at switch-over, ms; 0 until the VM switched over.'),
    iteration: bytes('Passes over dirty memory so far.'),
    post_copy: z.boolean().meta({ description: 'Switched to post-copy (force-complete).' }),
  })
  .meta({ id: 'MigrationProgress' });
export type MigrationProgressView = z.infer<typeof MigrationProgressSchema>;

export const MigrationSchema = z
  .object({
    id: z.guid(),
    vm_id: z.guid(),
    vm_name: z.string(),
    source_host_id: z.guid().nullable(),
    destination_host_id: z.guid().nullable(),
    status: z.enum(MIGRATION_STATUSES),
    live: z.boolean(),
    persistent: z.boolean(),
    undefine_source: z.boolean(),
    copy_storage: z.enum(COPY_STORAGE_MODES),
    bandwidth_mibps: z.number().int(),
    max_downtime_ms: z.number().int(),
    auto_converge: z.boolean(),
    compression: z.boolean(),
    allow_post_copy: z.boolean(),
    completion_timeout_s: z.number().int(),
    progress: MigrationProgressSchema.nullable(),
    error: z
      .object({
        code: z.string().meta({
          description:
            "Stable: libvirt's error code name when libvirt refused or failed (`OPERATION_FAILED`), else " +
            "the agent's or the controller's own (`deadline_exceeded`, `not_a_migration_target`, …).",
        }),
        message: z.string().meta({ description: "In libvirt's words when libvirt failed it." }),
      })
      .nullable(),
    cancel_requested_at: z.iso.datetime().nullable(),
    force_complete_requested_at: z.iso.datetime().nullable(),
    requested_by: z.guid().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    finished_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Migration' });
export type MigrationView = z.infer<typeof MigrationSchema>;
