import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonBody, jsonResponse } from '../http/define-route.ts';
import { COPY_STORAGE_MODES } from '../migrations/migration-schema.ts';
import { QEMU_OVERHEAD_MIB } from '../placement/memory-room.ts';
import { resourceIdParams } from './resource-id-params.ts';

const count = (max: number, description: string) =>
  z.number().int().min(0).max(max).default(0).meta({ description });

/** The seed's payload, plus the tuning operators of oVirt and Nova expect. */
const MigrateSchema = z
  .strictObject({
    destination_host_id: z
      .guid('must be a host id (UUID)')
      .transform((id) => id.toLowerCase())
      .meta({ description: 'The host to move the VM to.' }),
    live: z.boolean().default(true).meta({ description: 'The VM keeps running during the copy.' }),
    persistent: z
      .boolean()
      .default(true)
      .meta({ description: 'Define the VM persistently on the destination.' }),
    undefine_source: z
      .boolean()
      .default(true)
      .meta({ description: 'Remove the VM’s definition from the source once it runs on the destination.' }),
    copy_storage: z
      .enum(COPY_STORAGE_MODES)
      .default('none')
      .meta({
        description:
          '`none`: the hosts share the disks’ storage; `all`: copy whole disks; `inc`: copy only the top ' +
          'image (the backing chain must already be on the destination). With `all`, the images the ' +
          'destination created are removed if the migration fails or is cancelled, and the source’s copies of ' +
          'them once it completed (not while the source keeps the VM’s definition, `undefine_source` false).',
      }),
    bandwidth_mibps: count(1_000_000, 'Bandwidth limit, MiB/s (memory and disks); 0: unlimited.'),
    max_downtime_ms: count(600_000, 'Longest pause allowed at switch-over, ms; 0: libvirt’s default.'),
    auto_converge: z
      .boolean()
      .default(false)
      .meta({ description: 'Throttle the guest’s CPUs until it converges.' }),
    compression: z.boolean().default(false).meta({ description: 'Compress memory pages (XBZRLE).' }),
    allow_post_copy: z
      .boolean()
      .default(false)
      .meta({ description: 'Allow `POST /api/v1/migrations/{id}/force-complete` to switch to post-copy.' }),
    completion_timeout_s: count(
      86_400,
      'Abort the migration when not completed after this many seconds; 0: never.',
    ),
  })
  .meta({
    id: 'VmMigrate',
    example: {
      destination_host_id: '019e0014-ffff-7057-b326-000000000002',
      live: true,
      persistent: true,
      undefine_source: true,
      copy_storage: 'none',
    },
  });

const route = authedRoute('operator', {
  method: 'post',
  path: '/api/v1/vms/{id}/migrate',
  operationId: 'migrateVm',
  tags: ['migrations'],
  summary: 'Live-migrate a VM to another host',
  description:
    'Checks the request, records the migration (`initiated`) and answers at once; a coordinator then ' +
    'has the destination prepare and the source run a peer-to-peer libvirt migration. Follow it at ' +
    '`Location: /api/v1/migrations/<id>` (or wait on `/api/v1/operations/<id>?wait=`: the same id). ' +
    'Refused with `insufficient_memory` when the destination has no room for the VM: its latest memory ' +
    'sample (without a recent one, its whole memory), less the VMs already on their way there, must hold ' +
    `the VM's memory and ${QEMU_OVERHEAD_MIB} MiB for QEMU.`,
  request: { params: resourceIdParams('VM'), body: jsonBody(MigrateSchema) },
  responses: {
    202: jsonResponse(
      'The migration was recorded and starts.',
      z.object({ migration_id: z.guid(), status: z.literal('initiated') }).meta({ id: 'MigrationStarted' }),
    ),
  },
  errors: [
    'not_found',
    'destination_is_source',
    'host_disconnected',
    'destination_not_migration_target',
    'vm_not_running',
    'name_in_use',
    'insufficient_memory',
    'migration_in_progress',
    'operation_in_progress',
    'conflict',
  ],
});

export function registerV1VmsMigrate(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { services, caller } = c.var;
    const migration = await services.migrations.start(caller, c.req.valid('param').id, c.req.valid('json'));
    c.header('Location', `/api/v1/migrations/${migration.id}`);
    return c.json({ migration_id: migration.id, status: 'initiated' as const }, 202);
  });
}
