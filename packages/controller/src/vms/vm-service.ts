import type { SignedInCaller } from '../auth/caller.ts';
import type { Clock } from '../clock.ts';
import type { CommandService } from '../commands/command-service.ts';
import type { Sql, Tx } from '../database/sql.ts';
import { uuidv7 } from '../ids.ts';
import { insertOperation } from '../operations/operation-queries.ts';
import type { OperationView } from '../operations/operation-schema.ts';
import { ServiceError } from '../service-error.ts';
import type { VmCache } from './vm-cache.ts';
import { OVERRULES, type PowerRequest, planPowerAction } from './vm-power.ts';
import { findVm, stillOnHost, type VmFilter, type VmPosition } from './vm-queries.ts';
import type { VmView } from './vm-schema.ts';

/** How long a power command may wait for delivery before it expires (its operation then fails). */
export const POWER_COMMAND_DEADLINE_MS = 60_000;

export interface VmPage {
  vms: VmView[];
  /** Where the next page starts; null on the last one. */
  next: VmPosition | null;
}

/**
 * The virtual machines: reads for the REST API (what the agents' sync ingest stored) and power actions,
 * which become an operation and a command to the VM's host, written together, then routed to the
 * replica holding the host's stream.
 */
export interface VmService {
  list(filter: VmFilter, page: { limit: number; after?: VmPosition }): Promise<VmPage>;
  /**
   * A page as `render` makes it, made once while nothing changes and shared by its readers meanwhile.
   * `render` is one function for the life of the process (its renderings are reused by identity).
   */
  listRendered<T>(
    filter: VmFilter,
    page: { limit: number; after?: VmPosition },
    render: (page: VmPage) => T,
  ): Promise<T>;
  /** Throws `not_found`. */
  get(id: string): Promise<VmView>;
  /**
   * Starts a power action: the new operation (pending). Throws `not_found`, `host_disconnected`, a
   * state code (`vm_not_running`, `vm_already_running`, `vm_not_paused`, `vm_already_paused`, `vm_paused`) or
   * `operation_in_progress`. A forced stop or restart cancels the VM's graceful one still under way
   * (`superseded`, see OVERRULES).
   */
  act(caller: SignedInCaller, id: string, request: PowerRequest): Promise<OperationView>;
}

export function createVmService(deps: {
  sql: Sql;
  clock: Clock;
  commands: CommandService;
  /** Where reads are answered from (this replica's memory, kept current by the change log). */
  cache: VmCache;
}): VmService {
  const { sql, clock, commands, cache } = deps;
  const notFound = () => new ServiceError('not_found', 'no such VM');

  return {
    async list(filter, page) {
      return pageOf(await cache.list(filter, page), page.limit);
    },

    listRendered(filter, page, render) {
      return cache.listRendered(render, filter, page, (vms) => render(pageOf(vms, page.limit)));
    },

    async get(id) {
      const vm = await cache.get(id);
      if (vm === null) throw notFound();
      return vm;
    },

    async act(caller, id, request) {
      caller.audit.target = `vm:${id}`;
      // A decision, not a read: taken on the table's state.
      const vm = await findVm(sql, id);
      if (vm === null) throw notFound();
      if (vm.stale) {
        throw new ServiceError(
          'host_disconnected',
          `the VM's host ${vm.host_id} is not connected: its state is unknown and it cannot receive commands`,
        );
      }
      const plan = planPowerAction(request, vm.state);
      const now = clock.now();
      const operationId = uuidv7(now);
      const commandId = uuidv7(now);
      let overruled: string[] = [];
      const operation = await sql.begin(async (tx) => {
        // A forced action overrules a graceful one still waiting for the guest (a guest that ignores
        // ACPI would otherwise keep its VM from being stopped or reset until that one's timeout).
        const overrules = OVERRULES[plan.kind];
        if (overrules !== undefined) {
          overruled = await commands.cancelPower(tx, {
            vmId: vm.id,
            kinds: overrules,
            error: {
              code: 'superseded',
              message: `overruled by a forced ${request.action} (operation ${operationId})`,
            },
          });
        }
        const created = await insertOperation(tx, {
          id: operationId,
          kind: plan.kind,
          vmId: vm.id,
          hostId: vm.host_id,
          requestedBy: caller.principal.userId,
          now,
        });
        // Thrown inside, so that nothing this transaction did (an overruled stop) is kept.
        if (created === null) {
          throw new ServiceError(
            'operation_in_progress',
            'another operation on this VM has not finished yet',
          );
        }
        await requireStillOnHost(tx, vm);
        await commands.enqueue(tx, {
          command: {
            commandId,
            deadlineMs: now.getTime() + POWER_COMMAND_DEADLINE_MS,
            action: {
              $case: 'power',
              value: {
                vmId: vm.id,
                op: plan.op,
                timeoutS: plan.timeoutS,
                forceAfterTimeout: plan.forceAfterTimeout,
              },
            },
          },
          hostId: vm.host_id,
          operationId,
        });
        return created;
      });
      commands.announce(overruled);
      await commands.route(vm.host_id, commandId);
      return operation;
    },
  };
}

function pageOf(vms: VmView[], limit: number): VmPage {
  const last = vms.at(-1);
  return { vms, next: vms.length === limit && last !== undefined ? { name: last.name, id: last.id } : null };
}

/**
 * An operation decided on the VM as read before its transaction is written only while the VM is still on
 * that host (its row share-locked till the commit): a migration that completed in between moved it.
 */
export async function requireStillOnHost(tx: Tx, vm: { id: string; host_id: string }): Promise<void> {
  if (!(await stillOnHost(tx, vm.id, vm.host_id))) {
    throw new ServiceError(
      'conflict',
      'the VM moved to another host while this request was decided (a migration completed): send it again',
    );
  }
}
