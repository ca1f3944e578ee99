import type { ChangeRow } from '../changes/change-tail.ts';
import type { HostStatus } from '../hosts/host-schema.ts';
import type { VmFilter, VmPosition } from './vm-queries.ts';
import type { VmRecord } from './vm-record.ts';
import type { VmState, VmView } from './vm-schema.ts';

/**
 * A VM as the change log and the vms table store it: its view without what the host decides (`stale`)
 * and with the conflicting hosts as stored. `confirmed_at` is the VM's own (the view's is the later of
 * it and the host's last sign of life).
 */
export type StoredVm = Omit<VmView, 'stale' | 'conflict'> & { conflict_host_ids: string[] | null };

/**
 * A VM upsert as the sync ingest wrote it (its change row's id, the record, the conflicts the statement
 * saw): applied by the writer's own replica at the commit, field by field.
 */
export interface VmWrite {
  changeId: number;
  hostId: string;
  record: VmRecord;
  conflictHostIds: string[] | null;
}

/** What a VM's view takes from its host. */
export interface StoredHost {
  id: string;
  status: HostStatus;
  /** ISO 8601 (toISOString), or null. */
  last_seen_at: string | null;
}

interface Entry {
  /** The change that wrote it (0: loaded from the tables). */
  version: number;
  vm: StoredVm;
}

interface HostEntry {
  version: number;
  host: StoredHost;
}

/**
 * Orders strings by code point, as PostgreSQL's "C" collation orders UTF-8 text (`<` on JS strings
 * compares UTF-16 units, which puts U+E000..U+FFFF after the astral planes).
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return (a.codePointAt(i) ?? x) - (b.codePointAt(i) ?? y);
  }
  return a.length - b.length;
}

/** The list's order: name (code points), then id (lower-case hex, as uuid compares). */
const compare = (a: VmPosition, b: VmPosition): number => {
  const byName = compareCodePoints(a.name, b.name);
  return byName !== 0 ? byName : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

/** The first index whose entry sorts after `p` (`strict`) or at/after it. */
function bound(list: readonly Entry[], p: VmPosition, strict: boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compare((list[mid] as Entry).vm, p);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(list: Entry[], e: Entry): void {
  list.splice(bound(list, e.vm, false), 0, e);
}

function removeSorted(list: Entry[], e: Entry): void {
  const i = bound(list, e.vm, false);
  if (list[i] === e) list.splice(i, 1);
}

const iso = (v: unknown): string | null =>
  v === null || v === undefined ? null : new Date(String(v)).toISOString();

/** A VM row of the change log (`data`, VM_CHANGE_DATA) in stored form. */
export function storedVmOf(data: Record<string, unknown>): StoredVm {
  return {
    id: String(data.id),
    host_id: String(data.host_id),
    name: String(data.name),
    state: data.state as VmState,
    state_reason: String(data.state_reason ?? ''),
    vcpus: Number(data.vcpus),
    memory_mib: Number(data.memory_mib),
    max_memory_mib: data.max_memory_mib === null ? null : Number(data.max_memory_mib),
    persistent: Boolean(data.persistent),
    autostart: Boolean(data.autostart),
    confirmed_at: iso(data.confirmed_at),
    updated_at: iso(data.updated_at) ?? '',
    conflict_host_ids: Array.isArray(data.conflict_host_ids) ? data.conflict_host_ids.map(String) : null,
  };
}

/**
 * The VMs and their hosts' liveness in memory, as the change log describes them, answering the REST
 * reads exactly as the SQL of vm-queries.ts does: by name then id, filters, keyset pages, a VM whose
 * host is not connected stale, confirmed as of the later of its own confirmation and its host's last
 * sign of life. Sorted arrays (all VMs; each host's) keep a page a binary search and a short walk.
 */
export class VmStore {
  private readonly vms = new Map<string, Entry>();
  private readonly hosts = new Map<string, HostEntry>();
  private readonly sorted: Entry[] = [];
  private readonly byHost = new Map<string, Entry[]>();
  private edits = 0;

  get size(): number {
    return this.vms.size;
  }

  /** Grows with every change to what the store answers (pages rendered at one generation stay valid). */
  get generation(): number {
    return this.edits;
  }

  /**
   * Fills the store from the tables (as of one snapshot), replacing what it held: the hosts, then the
   * VMs a chunk at a time (`add`), then `sorted()`.
   */
  startLoad(hosts: readonly StoredHost[]): void {
    this.edits++;
    this.vms.clear();
    this.hosts.clear();
    this.byHost.clear();
    this.sorted.length = 0;
    for (const host of hosts) this.hosts.set(host.id, { version: 0, host });
  }

  add(vm: StoredVm): void {
    this.edits++;
    const e = { version: 0, vm };
    this.vms.set(vm.id, e);
    this.sorted.push(e);
    this.hostList(vm.host_id).push(e);
  }

  endLoad(): void {
    const order = (a: Entry, b: Entry) => compare(a.vm, b.vm);
    this.sorted.sort(order);
    for (const list of this.byHost.values()) list.sort(order);
  }

  /** Applies one row of the change log. An older change of an entity than the one held is ignored. */
  apply(change: ChangeRow): void {
    if (change.kind === 'vm') {
      const held = this.vms.get(change.entityId);
      if (held !== undefined && held.version > change.id) return;
      this.edits++;
      if (change.op === 'delete' || change.data === null) {
        if (held !== undefined) this.removeVm(held);
        return;
      }
      this.putVm(change.id, storedVmOf(change.data), held);
    } else if (change.kind === 'host') {
      const held = this.hosts.get(change.entityId);
      if (held !== undefined && held.version > change.id) return;
      this.edits++;
      if (change.op === 'delete' || change.data === null) {
        this.removeHost(change.entityId);
        return;
      }
      const d = change.data;
      this.hosts.set(change.entityId, {
        version: change.id,
        host: { id: change.entityId, status: d.status as HostStatus, last_seen_at: iso(d.last_seen_at) },
      });
    }
  }

  /**
   * Applies a write of this replica at its commit (`at`: its time, ISO). Same effect as its change row;
   * written into the held record in place, so 20,000 changes/s allocate next to nothing.
   */
  applyWrite(w: VmWrite, at: string): void {
    const held = this.vms.get(w.record.id);
    if (held !== undefined && held.version > w.changeId) return;
    this.edits++;
    const r = w.record;
    if (held !== undefined && held.vm.name === r.name && held.vm.host_id === w.hostId) {
      const vm = held.vm;
      held.version = w.changeId;
      vm.state = r.state;
      vm.state_reason = r.stateReason;
      vm.vcpus = r.vcpus;
      vm.memory_mib = r.memoryMib;
      vm.max_memory_mib = r.maxMemoryMib;
      vm.persistent = r.persistent;
      vm.autostart = r.autostart;
      vm.confirmed_at = at;
      vm.updated_at = at;
      vm.conflict_host_ids = w.conflictHostIds;
      return;
    }
    this.putVm(
      w.changeId,
      {
        id: r.id,
        host_id: w.hostId,
        name: r.name,
        state: r.state,
        state_reason: r.stateReason,
        vcpus: r.vcpus,
        memory_mib: r.memoryMib,
        max_memory_mib: r.maxMemoryMib,
        persistent: r.persistent,
        autostart: r.autostart,
        confirmed_at: at,
        updated_at: at,
        conflict_host_ids: w.conflictHostIds,
      },
      held,
    );
  }

  /** A host's last sign of life (written once a second, outside the change log). */
  setLastSeen(hostId: string, lastSeenAt: string | null): void {
    const held = this.hosts.get(hostId);
    if (held === undefined || held.host.last_seen_at === lastSeenAt) return;
    this.edits++;
    held.host.last_seen_at = lastSeenAt;
  }

  /** The host holding the VM (its id as stored: lower case), or undefined for a VM not held. */
  hostOf(vmId: string): string | undefined {
    // Ids are held lower case; a lower-case id (what the metric ingest passes) costs one lookup.
    return (this.vms.get(vmId) ?? this.vms.get(vmId.toLowerCase()))?.vm.host_id;
  }

  get(id: string): VmView | null {
    const e = this.vms.get(id.toLowerCase());
    if (e === undefined) return null;
    return this.view(e.vm);
  }

  list(filter: VmFilter, page: { limit: number; after?: VmPosition }): VmView[] {
    const hostId = filter.hostId?.toLowerCase();
    const source = hostId === undefined ? this.sorted : (this.byHost.get(hostId) ?? []);
    let i = 0;
    if (filter.name !== undefined) i = bound(source, { name: filter.name, id: '' }, false);
    if (page.after !== undefined) {
      i = Math.max(i, bound(source, { name: page.after.name, id: page.after.id.toLowerCase() }, true));
    }
    const out: VmView[] = [];
    for (; i < source.length && out.length < page.limit; i++) {
      const vm = (source[i] as Entry).vm;
      if (filter.name !== undefined && vm.name !== filter.name) break;
      if (filter.state !== undefined && vm.state !== filter.state) continue;
      const view = this.view(vm);
      if (view !== null) out.push(view);
    }
    return out;
  }

  /** The API view; null while its host is unknown (the SQL joins hosts). */
  private view(vm: StoredVm): VmView | null {
    const host = this.hosts.get(vm.host_id)?.host;
    if (host === undefined) return null;
    const seen = host.last_seen_at;
    const confirmed =
      vm.confirmed_at === null ? seen : seen === null || vm.confirmed_at >= seen ? vm.confirmed_at : seen;
    return {
      id: vm.id,
      host_id: vm.host_id,
      name: vm.name,
      state: vm.state,
      state_reason: vm.state_reason,
      vcpus: vm.vcpus,
      memory_mib: vm.memory_mib,
      max_memory_mib: vm.max_memory_mib,
      persistent: vm.persistent,
      autostart: vm.autostart,
      stale: host.status !== 'connected',
      confirmed_at: confirmed,
      conflict: vm.conflict_host_ids === null ? null : { host_ids: vm.conflict_host_ids },
      updated_at: vm.updated_at,
    };
  }

  private putVm(version: number, vm: StoredVm, held: Entry | undefined): void {
    if (held !== undefined && held.vm.name === vm.name && held.vm.host_id === vm.host_id) {
      // In place: the held record lives long (old space); the new one dies young. A copy per change at
      // 20,000 changes/s grew the old space, and the RSS, by hundreds of MiB between major collections.
      held.version = version;
      Object.assign(held.vm, vm);
      return;
    }
    if (held !== undefined) this.removeVm(held);
    const e = { version, vm };
    this.vms.set(vm.id, e);
    insertSorted(this.sorted, e);
    insertSorted(this.hostList(vm.host_id), e);
  }

  private hostList(hostId: string): Entry[] {
    const own = this.byHost.get(hostId);
    if (own !== undefined) return own;
    const created: Entry[] = [];
    this.byHost.set(hostId, created);
    return created;
  }

  private removeVm(e: Entry): void {
    this.vms.delete(e.vm.id);
    removeSorted(this.sorted, e);
    const own = this.byHost.get(e.vm.host_id);
    if (own !== undefined) {
      removeSorted(own, e);
      if (own.length === 0) this.byHost.delete(e.vm.host_id);
    }
  }

  /** A deleted host takes its VMs and its conflict records with it (on delete cascade). */
  private removeHost(hostId: string): void {
    this.hosts.delete(hostId);
    for (const e of [...(this.byHost.get(hostId) ?? [])]) this.removeVm(e);
    for (const e of this.vms.values()) {
      const ids = e.vm.conflict_host_ids;
      if (ids?.includes(hostId)) {
        const rest = ids.filter((id) => id !== hostId);
        e.vm = { ...e.vm, conflict_host_ids: rest.length === 0 ? null : rest };
      }
    }
  }
}
