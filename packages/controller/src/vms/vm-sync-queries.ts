import type { Tx } from '../database/sql.ts';
import type { VmRecord } from './vm-record.ts';
import type { VmWrite } from './vm-store.ts';

// What the sync ingest writes to vms and vm_conflicts, each a handful of multi-row statements whatever
// the batch size (unnest), each writing its `changes` rows in the same statement. Always called inside
// the transaction that also advances the host's sync cursor.

/**
 * The `changes` data of a VM row: its view's stored fields and the hosts reporting it too (a statement
 * sees vm_conflicts as it was when it started: one that changes vm_conflicts logs the VMs it touched
 * afterwards, with recordVmChanges).
 */
const VM_CHANGE_DATA = `jsonb_build_object('id', id, 'host_id', host_id, 'name', name, 'state', state,
  'state_reason', state_reason, 'vcpus', vcpus, 'memory_mib', memory_mib, 'max_memory_mib', max_memory_mib,
  'persistent', persistent, 'autostart', autostart, 'confirmed_at', confirmed_at, 'updated_at', updated_at,
  'conflict_host_ids', (select array_agg(c.host_id order by c.host_id) from vm_conflicts c where c.vm_id = id))`;

/**
 * Logs the VMs named as they stand now (those still in vms): after their conflicts changed. Their rows
 * are locked first (in id order), as every other writer of a VM's change holds its row: so per VM the
 * change ids follow the commits (a cache applies the last one), and the row logged is the latest
 * committed one rather than the one this transaction's snapshot saw.
 */
export async function recordVmChanges(tx: Tx, vmIds: readonly string[], now: Date): Promise<void> {
  if (vmIds.length === 0) return;
  await tx`select 1 from vms where id = any(${[...new Set(vmIds)]}::uuid[]) order by id for update`;
  await tx`
    insert into changes (at, kind, entity_id, op, data)
    select ${now}::timestamptz, 'vm', id, 'upsert', ${tx.unsafe(VM_CHANGE_DATA)}
    from vms where id = any(${[...new Set(vmIds)]}::uuid[])`;
}

/** A VM as one host reports it. */
export interface HostVm {
  hostId: string;
  record: VmRecord;
}

/** One VM of one host. */
export interface HostVmId {
  hostId: string;
  vmId: string;
}

export interface UpsertOutcome {
  /** VMs whose stored record changed (or appeared). */
  changed: number;
  /** The `changes` rows written for them, as their writer knows them (see VmWrite). */
  changes: VmWrite[];
  /** Reported VMs another host holds: recorded as conflicts, never merged. */
  conflicts: HostVmId[];
}

/**
 * Stores VM records as their hosts report them (one host's, or several hosts' at once). A record equal
 * to the stored one writes nothing; one whose id another host holds is not stored but returned as a
 * conflict (the caller records it).
 */
export async function upsertVms(tx: Tx, vms: readonly HostVm[], now: Date): Promise<UpsertOutcome> {
  if (vms.length === 0) return { changed: 0, conflicts: [], changes: [] };
  const byKey = new Map(vms.map((v) => [`${v.hostId} ${v.record.id}`, v]));
  const col = <K extends keyof VmRecord>(k: K) => vms.map((v) => v.record[k]);
  // The reported VMs' rows are locked first, in id order as every writer of a VM's change locks them:
  // the statement below then starts after any transaction that held them has committed, so the
  // conflicts it logs (a subquery, as of the statement's start) are current. Without this, an upsert
  // that waited on a promotion's lock (removeVms) logged the conflict the promotion had just cleared,
  // under the larger change id: a cache applying the log kept a conflict the tables no longer had.
  // Both are sent at once, in this order (pipelined: one round trip).
  const lock =
    tx`select 1 from vms where id = any(${[...new Set(col('id'))]}::uuid[]) order by id for update`.execute();
  const upsert = tx<
    {
      id: string;
      host_id: string;
      conflict: boolean;
      change_id: string | null;
      conflict_host_ids: string[] | null;
    }[]
  >`
    with input as (
      select * from unnest(${vms.map((v) => v.hostId)}::uuid[], ${col('id')}::uuid[], ${col('name')}::text[],
                           ${col('state')}::text[],
                           ${col('stateReason')}::text[], ${col('vcpus')}::int[], ${col('memoryMib')}::int[],
                           ${col('maxMemoryMib')}::int[], ${tx.array(col('persistent'))}::bool[], ${tx.array(col('autostart'))}::bool[],
                           ${vms.map((v) => JSON.stringify(v.record.disks))}::text[])
        as t (host_id, id, name, state, state_reason, vcpus, memory_mib, max_memory_mib, persistent, autostart, disks)
    ),
    prev as (select v.id, v.host_id from vms v join input i on i.id = v.id),
    up as (
      insert into vms as v (id, host_id, name, state, state_reason, vcpus, memory_mib, max_memory_mib,
                            persistent, autostart, disks, confirmed_at, created_at, updated_at)
      select id, host_id, name, state, state_reason, vcpus, memory_mib, max_memory_mib, persistent,
             autostart, disks::jsonb, ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz
      from input
      on conflict (id) do update set
        name = excluded.name, state = excluded.state, state_reason = excluded.state_reason,
        vcpus = excluded.vcpus, memory_mib = excluded.memory_mib, max_memory_mib = excluded.max_memory_mib,
        persistent = excluded.persistent, autostart = excluded.autostart, disks = excluded.disks,
        confirmed_at = excluded.confirmed_at, updated_at = excluded.updated_at
      where v.host_id = excluded.host_id
        and (v.name, v.state, v.state_reason, v.vcpus, v.memory_mib, v.max_memory_mib, v.persistent, v.autostart,
             v.disks)
            is distinct from (excluded.name, excluded.state, excluded.state_reason, excluded.vcpus,
                              excluded.memory_mib, excluded.max_memory_mib, excluded.persistent, excluded.autostart,
                              excluded.disks)
      returning v.*
    ),
    changed as (
      insert into changes (at, kind, entity_id, op, data)
      select ${now}::timestamptz, 'vm', id, 'upsert', ${tx.unsafe(VM_CHANGE_DATA)} from up
      returning id, entity_id, data
    )
    select i.id, i.host_id, true as conflict, null::bigint as change_id, null::uuid[] as conflict_host_ids
    from input i left join prev p on p.id = i.id
    where not exists (select 1 from up u where u.id = i.id) and (p.id is null or p.host_id <> i.host_id)
    union all
    select entity_id, (data->>'host_id')::uuid, false, id,
           (select array_agg(h::uuid) from jsonb_array_elements_text(nullif(data->'conflict_host_ids', 'null')) h)
    from changed`.execute();
  const [, rows] = await Promise.all([lock, upsert]);
  return {
    changed: rows.filter((r) => !r.conflict).length,
    // The records at hand with their change ids and conflicts (from the statement): parsing 5,000
    // jsonb values back per group, or copying each record into a row object, cost memory for nothing.
    changes: rows
      .filter((r) => !r.conflict)
      .map((r) => ({
        changeId: Number(r.change_id),
        hostId: r.host_id,
        record: (byKey.get(`${r.host_id} ${r.id}`) as HostVm).record,
        conflictHostIds: r.conflict_host_ids,
      })),
    conflicts: rows.filter((r) => r.conflict).map((r) => ({ hostId: r.host_id, vmId: r.id })),
  };
}

/**
 * Records that hosts report VMs another host holds. Returns those first seen now (the caller logs them
 * once).
 */
export async function recordConflicts(tx: Tx, vms: readonly HostVm[], now: Date): Promise<HostVmId[]> {
  if (vms.length === 0) return [];
  const rows = await tx<{ vm_id: string; host_id: string; inserted: boolean }[]>`
    insert into vm_conflicts as c (vm_id, host_id, name, state, record, first_seen_at, last_seen_at)
    select t.id, t.host_id, t.name, t.state, t.record::jsonb, ${now}::timestamptz, ${now}::timestamptz
    from unnest(${vms.map((v) => v.record.id)}::uuid[], ${vms.map((v) => v.hostId)}::uuid[],
                ${vms.map((v) => v.record.name)}::text[], ${vms.map((v) => v.record.state)}::text[],
                ${vms.map((v) => JSON.stringify(v.record))}::text[])
         as t (id, host_id, name, state, record)
    on conflict (vm_id, host_id) do update set
      name = excluded.name, state = excluded.state, record = excluded.record, last_seen_at = excluded.last_seen_at
    returning c.vm_id, c.host_id, (xmax = 0) as inserted`;
  const fresh = rows.filter((r) => r.inserted).map((r) => ({ hostId: r.host_id, vmId: r.vm_id }));
  await recordVmChanges(
    tx,
    fresh.map((f) => f.vmId),
    now,
  );
  return fresh;
}

/**
 * Removes VMs from their hosts: the (host, VM) pairs named, or every VM of some hosts but those each
 * keeps (snapshots' reconciliation, several hosts in one statement). Their conflict records go too.
 * Returns the ids removed from vms.
 */
export async function removeVms(
  tx: Tx,
  which: { pairs: readonly HostVmId[] } | { hosts: readonly { hostId: string; keep: readonly string[] }[] },
  now: Date,
): Promise<string[]> {
  let rows: Array<{ id: string; cleared: boolean }>;
  if ('pairs' in which) {
    if (which.pairs.length === 0) return [];
    const hosts = which.pairs.map((p) => p.hostId);
    const ids = which.pairs.map((p) => p.vmId);
    rows = await tx<{ id: string; cleared: boolean }[]>`
      with gone as (
        delete from vms v using unnest(${hosts}::uuid[], ${ids}::uuid[]) as r (host_id, id)
        where v.host_id = r.host_id and v.id = r.id returning v.id
      ),
      logged as (
        insert into changes (at, kind, entity_id, op, data) select ${now}::timestamptz, 'vm', id, 'delete', null from gone
      ),
      cleared as (
        delete from vm_conflicts c using unnest(${hosts}::uuid[], ${ids}::uuid[]) as r (host_id, id)
        where c.host_id = r.host_id and c.vm_id = r.id returning c.vm_id
      )
      select id, false as cleared from gone union all select vm_id, true from cleared`;
  } else {
    if (which.hosts.length === 0) return [];
    const hostIds = which.hosts.map((h) => h.hostId);
    const keptHosts = which.hosts.flatMap((h) => h.keep.map(() => h.hostId));
    const keptIds = which.hosts.flatMap((h) => h.keep);
    rows = await tx<{ id: string; cleared: boolean }[]>`
      with kept as (select * from unnest(${keptHosts}::uuid[], ${keptIds}::uuid[]) as k (host_id, id)),
      gone as (
        delete from vms v where v.host_id = any(${hostIds}::uuid[])
          and not exists (select 1 from kept k where k.host_id = v.host_id and k.id = v.id)
        returning v.id
      ),
      logged as (
        insert into changes (at, kind, entity_id, op, data) select ${now}::timestamptz, 'vm', id, 'delete', null from gone
      ),
      cleared as (
        delete from vm_conflicts c where c.host_id = any(${hostIds}::uuid[])
          and not exists (select 1 from kept k where k.host_id = c.host_id and k.id = c.vm_id)
        returning c.vm_id
      )
      select id, false as cleared from gone union all select vm_id, true from cleared`;
  }
  const removed = rows.filter((r) => !r.cleared).map((r) => r.id);
  const promoted = removed.length > 0 ? await promoteConflicts(tx, removed, now) : [];
  // The VMs whose conflicts went (still held by their first host) or that a conflict took over.
  await recordVmChanges(tx, [...rows.filter((r) => r.cleared).map((r) => r.id), ...promoted], now);
  return removed;
}

/**
 * VMs that left their host while another host reported them too: the other host's record (the earliest
 * reported, if several) takes their place. This is how a migration made outside Cockpit (virsh migrate)
 * settles, whichever host's report arrives first.
 */
async function promoteConflicts(tx: Tx, vmIds: readonly string[], now: Date): Promise<string[]> {
  const rows = await tx<{ id: string }[]>`
    with pick as (
      select distinct on (vm_id) vm_id, host_id, record from vm_conflicts
      where vm_id = any(${vmIds as string[]}::uuid[]) order by vm_id, first_seen_at
    ),
    ins as (
      insert into vms (id, host_id, name, state, state_reason, vcpus, memory_mib, max_memory_mib, persistent,
                       autostart, disks, confirmed_at, created_at, updated_at)
      select vm_id, host_id, record->>'name', record->>'state', coalesce(record->>'stateReason', ''),
             (record->>'vcpus')::int, (record->>'memoryMib')::int, (record->>'maxMemoryMib')::int,
             (record->>'persistent')::bool, (record->>'autostart')::bool, coalesce(record->'disks', '[]'),
             ${now}::timestamptz,
             ${now}::timestamptz, ${now}::timestamptz
      from pick
      on conflict (id) do nothing
      returning *
    ),
    cleared as (delete from vm_conflicts c using ins where c.vm_id = ins.id and c.host_id = ins.host_id)
    select id from ins`;
  return rows.map((r) => r.id);
}

/**
 * A migration completed: the VM's row moves to the destination host with the destination's record, in
 * the transaction that completes the migration, so the VM is shown on one host before and one after.
 */
export async function moveVm(
  tx: Tx,
  input: { vmId: string; fromHostId: string; toHostId: string; record: VmRecord | null; now: Date },
): Promise<void> {
  const r = input.record;
  const moved = await tx<{ id: string }[]>`
    with moved as (
      update vms set host_id = ${input.toHostId}, updated_at = ${input.now}, confirmed_at = ${input.now}
        ${
          r === null
            ? tx``
            : tx`, name = ${r.name}, state = ${r.state}, state_reason = ${r.stateReason}, vcpus = ${r.vcpus},
                 memory_mib = ${r.memoryMib}, max_memory_mib = ${r.maxMemoryMib}, persistent = ${r.persistent},
                 autostart = ${r.autostart}, disks = ${JSON.stringify(r.disks ?? [])}::text::jsonb`
        }
      where id = ${input.vmId} and host_id = ${input.fromHostId}
      returning *
    ),
    cleared as (delete from vm_conflicts c where c.vm_id = ${input.vmId} and c.host_id = ${input.toHostId})
    select id from moved`;
  if (moved.length > 0) await recordVmChanges(tx, [input.vmId], input.now);
}
