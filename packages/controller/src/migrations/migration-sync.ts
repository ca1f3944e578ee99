import type { Tx } from '../database/sql.ts';
import { sameId } from '../ids.ts';
import type { VmRecord } from '../vms/vm-record.ts';
import { type ActiveMigration, activeMigrationsOf } from './migration-queries.ts';

// What the sync ingest does with reports about VMs that are being migrated. The destination's report
// of the VM is not a conflict (it would be one outside a migration) and not a second row: it is kept in
// the migration's row. The source's report that the VM left it is noted, not applied. Completion (or
// failure) applies both in the coordinator's transaction, so the VM is shown on exactly one host.

/** One host's reports, before they are written. */
export interface HostReports {
  hostId: string;
  upserts: VmRecord[];
  removed: string[];
}

/**
 * Takes the reports about migrating VMs out of `reports` (returned without them), storing them with
 * their migrations; `touched` lists the migrations whose row changed (their coordinator is told).
 */
export async function holdMigratingReports(
  tx: Tx,
  reports: readonly HostReports[],
  now: Date,
  /** The unfinished migrations of (at least) the reports' VMs, when the caller read them already. */
  migrating?: readonly ActiveMigration[],
): Promise<{ reports: HostReports[]; touched: string[] }> {
  const vmIds = reports.flatMap((r) => [...r.upserts.map((u) => u.id), ...r.removed]);
  const active = new Map((migrating ?? (await activeMigrationsOf(tx, vmIds))).map((m) => [m.vm_id, m]));
  if (active.size === 0) return { reports: [...reports], touched: [] };
  const touched: string[] = [];
  const kept: HostReports[] = [];
  // Host ids as values: a report's host id and the row's may be spelled differently.
  const on = (hostId: string | null | undefined, r: { hostId: string }) =>
    hostId !== null && hostId !== undefined && sameId(hostId, r.hostId);
  for (const r of reports) {
    const upserts: VmRecord[] = [];
    for (const record of r.upserts) {
      const m = active.get(record.id);
      if (m !== undefined && on(m.destination_host_id, r) && (await storeReport(tx, m.id, record, now))) {
        touched.push(m.id);
      } else {
        upserts.push(record);
      }
    }
    const removed: string[] = [];
    for (const vmId of r.removed) {
      const m = active.get(vmId);
      if (m !== undefined && on(m.source_host_id, r) && (await noteLeft(tx, m.id, now))) touched.push(m.id);
      else if (m !== undefined && on(m.destination_host_id, r) && (await storeReport(tx, m.id, null, now))) {
        touched.push(m.id);
      } else removed.push(vmId);
    }
    kept.push({ hostId: r.hostId, upserts, removed });
  }
  return { reports: kept, touched };
}

/**
 * A host's whole snapshot: the migrating VMs it reports as destination are held; those leaving it that
 * it no longer reports are noted as gone (and kept in vms meanwhile). Returns the records to write, the
 * VM ids its reconciliation must keep, and the migrations touched.
 */
export async function holdMigratingSnapshot(
  tx: Tx,
  hostId: string,
  records: ReadonlyMap<string, VmRecord>,
  now: Date,
  /** Unfinished migrations, at least all of those to this host and from it (activeMigrationsOfHosts). */
  migrating: readonly ActiveMigration[],
): Promise<{ records: VmRecord[]; keep: string[]; touched: string[] }> {
  // Host ids as values: the session's spelling and the row's may differ.
  const incoming = migrating.filter(
    (m) => m.destination_host_id !== null && sameId(m.destination_host_id, hostId),
  );
  const leaving = migrating.filter((m) => m.source_host_id !== null && sameId(m.source_host_id, hostId));
  const touched: string[] = [];
  const write = new Map(records);
  const keep: string[] = [];
  for (const m of incoming) {
    if (await storeReport(tx, m.id, records.get(m.vm_id) ?? null, now)) {
      touched.push(m.id);
      write.delete(m.vm_id);
    }
  }
  for (const m of leaving) {
    if (records.has(m.vm_id)) continue;
    keep.push(m.vm_id);
    if (await noteLeft(tx, m.id, now)) touched.push(m.id);
  }
  return { records: [...write.values()], keep, touched };
}

/** Conditional on the migration still running: once it settled, the report is applied as any other. */
async function storeReport(tx: Tx, id: string, record: VmRecord | null, now: Date): Promise<boolean> {
  const rows = await tx`
    update migrations set destination_record = ${record === null ? null : JSON.stringify(record)}::text::jsonb,
                          destination_seen_at = case when ${record !== null} then coalesce(destination_seen_at, ${now})
                                                     else destination_seen_at end,
                          updated_at = ${now}
    where id = ${id} and status in ('initiated', 'preparing', 'migrating')
    returning id`;
  return rows.length > 0;
}

async function noteLeft(tx: Tx, id: string, now: Date): Promise<boolean> {
  const rows = await tx`
    update migrations set source_removed_at = coalesce(source_removed_at, ${now}), updated_at = ${now}
    where id = ${id} and status in ('initiated', 'preparing', 'migrating')
    returning id`;
  return rows.length > 0;
}
