import type { Logger } from 'pino';
import type { SignedInCaller } from '../auth/caller.ts';
import type { Clock } from '../clock.ts';
import type { Sql } from '../database/sql.ts';
import { findHost } from '../hosts/host-queries.ts';
import { sameId, uuidv7 } from '../ids.ts';
import type { Notifier } from '../notifier/notifier.ts';
import { insertOperation } from '../operations/operation-queries.ts';
import { memoryRoom, requireMemoryRoom } from '../placement/memory-room.ts';
import { ServiceError } from '../service-error.ts';
import { findVm } from '../vms/vm-queries.ts';
import { requireStillOnHost } from '../vms/vm-service.ts';
import {
  findMigration,
  insertMigration,
  listMigrations,
  type MigrationFilter,
  requestOnMigration,
  toMigrationView,
} from './migration-queries.ts';
import type { MigrationOptions, MigrationView } from './migration-schema.ts';

/** A migration request: where to, and the options (the seed's payload and the tuning). */
export interface MigrationRequest extends MigrationOptions {
  destination_host_id: string;
}

export interface MigrationPage {
  migrations: MigrationView[];
  /** The `before` of the next page; null on the last one. */
  nextBefore: string | null;
}

/**
 * Live migrations as the REST API sees them: start one (checked, recorded `initiated`, its coordinator
 * told), read them, ask for a cancel or a force-complete (recorded on the row; the coordinator holding
 * the migration sends the command). Every check that can refuse a migration runs before anything moves.
 */
export interface MigrationService {
  /**
   * Throws `not_found` (VM or destination), `destination_is_source`, `host_disconnected` (source or
   * destination), `destination_not_migration_target`, `vm_not_running`, `name_in_use` and
   * `insufficient_memory` (on the destination), `migration_in_progress` or `operation_in_progress`.
   */
  start(caller: SignedInCaller, vmId: string, request: MigrationRequest): Promise<MigrationView>;
  /** Throws `not_found`. */
  get(id: string): Promise<MigrationView>;
  list(filter: MigrationFilter, page: { limit: number; before?: string }): Promise<MigrationPage>;
  /** Throws `not_found`, `migration_finished`. */
  cancel(caller: SignedInCaller, id: string): Promise<MigrationView>;
  /** Throws `not_found`, `force_complete_not_allowed`. */
  forceComplete(caller: SignedInCaller, id: string): Promise<MigrationView>;
}

export function createMigrationService(deps: {
  sql: Sql;
  clock: Clock;
  notifier: Notifier;
  log: Logger;
  /** How old the destination's latest memory sample may be for the memory check to use it, ms. */
  maxSampleAgeMs: number;
}): MigrationService {
  const { sql, clock, notifier, log, maxSampleAgeMs } = deps;
  const tell = (id: string) =>
    notifier.publish('migrations', id).catch((err: unknown) => log.warn({ err }, 'notify failed'));

  const get = async (id: string) => {
    const row = await findMigration(sql, id);
    if (row === null) throw new ServiceError('not_found', 'no such migration');
    return toMigrationView(row);
  };

  return {
    async start(caller, vmId, request) {
      caller.audit.target = `vm:${vmId}`;
      const destinationId = request.destination_host_id.toLowerCase();
      caller.audit.detail = {
        destination_host_id: destinationId,
        live: request.live,
        copy_storage: request.copy_storage,
      };
      const vm = await findVm(sql, vmId);
      if (vm === null) throw new ServiceError('not_found', `no such VM ${vmId}`);
      caller.audit.detail.source_host_id = vm.host_id;
      const destination = await findHost(sql, destinationId);
      if (destination === null) {
        throw new ServiceError('not_found', `no such destination host ${destinationId}`, {
          inputs: [{ input: 'destination_host_id', message: 'no host has this id' }],
        });
      }
      if (sameId(destination.id, vm.host_id)) {
        throw new ServiceError('destination_is_source', `the VM already runs on host ${vm.host_id}`);
      }
      if (vm.stale) {
        throw new ServiceError(
          'host_disconnected',
          `the VM's host ${vm.host_id} is not connected: its state is unknown and it cannot migrate it`,
        );
      }
      if (destination.status !== 'connected') {
        throw new ServiceError(
          'host_disconnected',
          `the destination host ${destination.id} is ${destination.status}: it cannot take a VM`,
        );
      }
      if (!destination.migration_uri) {
        throw new ServiceError(
          'destination_not_migration_target',
          `the destination host ${destination.id} has no migration URI (its agent's --migration-uri): ` +
            'the source cannot reach its hypervisor',
        );
      }
      // The destination's agent refuses it too (libvirt keeps names unique per host), but only once the
      // migration started: a caller learns it here, before anything moves.
      const [namesake] = await sql<{ id: string }[]>`
        select id from vms where host_id = ${destination.id} and name = ${vm.name} and id <> ${vm.id}`;
      if (namesake !== undefined) {
        throw new ServiceError(
          'name_in_use',
          `the destination host ${destination.hostname} already has a VM named '${vm.name}' (${namesake.id}), ` +
            'and libvirt keeps names unique per host: rename one of them first',
        );
      }
      const active = vm.state === 'running' || vm.state === 'blocked';
      if (request.live ? !active : !active && vm.state !== 'paused') {
        throw new ServiceError(
          'vm_not_running',
          `cannot ${request.live ? 'live-' : ''}migrate a VM that is ${vm.state.replace('_', ' ')}`,
        );
      }
      const now = clock.now();
      const id = uuidv7(now);
      const created = await sql.begin(async (tx) => {
        // The operations index allows one unfinished operation per VM: of two concurrent requests (or a
        // power action and a migration) exactly one gets through.
        const operation = await insertOperation(tx, {
          id,
          kind: 'vm.migrate',
          vmId: vm.id,
          hostId: vm.host_id,
          requestedBy: caller.principal.userId,
          now,
        });
        if (operation === null) return null;
        await requireStillOnHost(tx, vm);
        // Under the destination's placement lock: of two migrations to it, the second counts the first.
        const room = await memoryRoom(tx, destination.id, { now, maxSampleAgeMs, lock: true });
        requireMemoryRoom(room, destination, vm.memory_mib, now);
        return insertMigration(tx, {
          id,
          vmId: vm.id,
          vmName: vm.name,
          vmState: vm.state,
          sourceHostId: vm.host_id,
          destinationHostId: destination.id,
          options: request,
          requestedBy: caller.principal.userId,
          now,
        });
      });
      if (created === null) {
        const busy = await sql<{ kind: string }[]>`
          select kind from operations where vm_id = ${vm.id} and status in ('pending', 'running')`;
        if (busy[0]?.kind === 'vm.migrate') {
          throw new ServiceError('migration_in_progress', 'this VM is already being migrated');
        }
        throw new ServiceError('operation_in_progress', 'another operation on this VM has not finished yet');
      }
      caller.audit.detail.migration_id = id;
      await tell(id);
      return toMigrationView(created);
    },

    get,

    async list(filter, page) {
      const rows = await listMigrations(sql, filter, page);
      const last = rows.at(-1);
      return {
        migrations: rows.map(toMigrationView),
        nextBefore: rows.length === page.limit && last !== undefined ? last.id : null,
      };
    },

    async cancel(caller, id) {
      caller.audit.target = `migration:${id}`;
      const row = await sql.begin((tx) => requestOnMigration(tx, id, 'cancel', clock.now()));
      if (row === null) {
        const current = await get(id);
        throw new ServiceError('migration_finished', `the migration is already ${current.status}`);
      }
      await tell(id);
      return toMigrationView(row);
    },

    async forceComplete(caller, id) {
      caller.audit.target = `migration:${id}`;
      const row = await sql.begin((tx) => requestOnMigration(tx, id, 'force_complete', clock.now()));
      if (row === null) {
        const current = await get(id);
        const why =
          current.status !== 'migrating'
            ? `it is ${current.status} (force-complete applies while the VM's memory is being copied)`
            : !current.allow_post_copy
              ? 'it was started without allow_post_copy (libvirt can switch to post-copy only when asked up front)'
              : 'a cancel was asked for';
        throw new ServiceError(
          'force_complete_not_allowed',
          `cannot force this migration to complete: ${why}`,
        );
      }
      await tell(id);
      return toMigrationView(row);
    },
  };
}
