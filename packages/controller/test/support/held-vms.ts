import type { StateChange } from '@cockpit/proto';
import { createSyncIngest } from '../../src/agents/sync-ingest.ts';
import type { Clock } from '../../src/clock.ts';
import type { Sql } from '../../src/database/sql.ts';
import { createLogger } from '../../src/log.ts';
import { VmCache } from '../../src/vms/vm-cache.ts';
import { vm } from './scripted-agent.ts';

/**
 * VMs held on hosts as the controller holds them, for tests that drive MetricIngest on a bare database
 * (no gRPC): each host inserted as a stream holds it (epoch 1), its VMs reported by a state batch
 * applied through the real sync ingest, and read by a real VM cache wired as createServices wires it
 * (the ingest's own writes applied at its commits). `cache` is what MetricIngest takes as `owners`.
 */
export function heldVms(sql: Sql, clock: Clock) {
  const log = createLogger('silent');
  const cache = new VmCache({ sql, log });
  const ingest = createSyncIngest({
    sql,
    clock,
    log,
    changesCommitted: (writes, at) => cache.committed(writes, at),
  });
  const cursors = new Map<string, number>();
  return {
    cache,
    /** Reports the VMs on the host (a batch of `vmUpdated`), inserting the host first if new. */
    async place(hostId: string, vmIds: readonly string[]): Promise<void> {
      const applied = cursors.get(hostId) ?? 0;
      if (!cursors.has(hostId)) {
        await sql`insert into hosts (id, hostname, status, stream_epoch)
          values (${hostId}, ${`held-${hostId}`}, 'connected', 1)`;
      }
      const changes: StateChange[] = vmIds.map((id, i) => ({
        cursor: applied + i + 1,
        observedAtMs: 0,
        change: { $case: 'vmUpdated', value: vm(id, `vm-${id.slice(0, 8)}`) },
      }));
      const outcome = await ingest.applyBatch({ hostId, epoch: 1 }, changes);
      if (outcome.kind !== 'applied')
        throw new Error(`the batch of ${hostId} was not applied: ${outcome.kind}`);
      cursors.set(hostId, applied + vmIds.length);
    },
    close: () => cache.close(),
  };
}
