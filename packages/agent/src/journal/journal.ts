import {
  type HostInfo,
  VmRemovalReason as RemovalReason,
  type StateChange,
  type Vm,
  type VmRemovalReason,
} from '@cockpit/proto';
import type { DriverSink } from '../driver/driver.ts';
import type { CursorStore } from './cursor-store.ts';
import { sameRecord } from './same-record.ts';

export interface JournalOptions {
  cursors: CursorStore;
  /** The bound left by the previous run (CursorStore.open's `previous`). */
  previous: number;
  /** Most entries kept; when full, the oldest go and the floor rises. */
  capacity: number;
  now?: () => number;
}

/** The state the journal is consistent with at one cursor: what a snapshot sends. */
export interface JournalSnapshot {
  cursor: number;
  host: HostInfo | undefined;
  vms: Vm[];
}

/**
 * The agent's numbered record of what changed on its host. Every change that alters a VM or host record
 * gets the next cursor; a report that changes nothing (a re-list that finds what an event already
 * brought) adds nothing. Entries with `floor < cursor <= head` can be replayed.
 *
 * A new run starts with an empty journal one cursor above everything the previous run may have used
 * (that cursor is a barrier, never sent): the controller's cursor is then always below the floor, so the
 * first session after a restart sends a snapshot, the only way to tell the controller about VMs that
 * vanished while the agent was down. A cursor file lost or restored from a backup breaks that barrier:
 * the controller's cursor, from an earlier run, can then fall inside this run's entries, which bear the
 * same numbers for other changes. So a run replays only once the controller acknowledged something of
 * its own (`canReplayFrom`); until then every session starts with a snapshot.
 */
export class Journal implements DriverSink {
  private entries: StateChange[] = [];
  /** Index in `entries` of the entry with cursor `floor + 1`. */
  private offset = 0;
  private readonly known = new Map<string, Vm>();
  private hostInfo: HostInfo | undefined;
  private floorCursor: number;
  private headCursor: number;
  /** The first cursor this run may hand out (its barrier): an ack at or above it is of this run's sending. */
  private readonly runFloor: number;
  /** Whether the controller acknowledged something this run sent: its cursor is then in this run's numbering. */
  private confirmed = false;
  private readonly capacity: number;
  private readonly cursors: CursorStore;
  private readonly now: () => number;
  private readonly listeners = new Set<() => void>();

  constructor(options: JournalOptions) {
    this.cursors = options.cursors;
    this.capacity = options.capacity;
    this.now = options.now ?? Date.now;
    this.floorCursor = options.previous + 1;
    this.runFloor = this.floorCursor;
    this.headCursor = this.floorCursor;
    this.cursors.ensure(this.headCursor);
  }

  /** Entries after it can be replayed; the newest entry dropped (or the barrier) has this cursor. */
  get floor(): number {
    return this.floorCursor;
  }

  /** The newest cursor written. */
  get head(): number {
    return this.headCursor;
  }

  get size(): number {
    return this.entries.length - this.offset;
  }

  get currentHost(): HostInfo | undefined {
    return this.hostInfo;
  }

  /** The last record of a VM (ids as the driver reports them: UUIDs in lower case). */
  vmRecord(id: string): Vm | undefined {
    return this.known.get(id);
  }

  /** Calls `listener` after each new entry; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  vm(vm: Vm): void {
    if (sameRecord(this.known.get(vm.id), vm)) return;
    this.reserveNext();
    this.known.set(vm.id, vm);
    this.append({ $case: 'vmUpdated', value: vm });
  }

  vmRemoved(id: string, name: string, reason: VmRemovalReason): void {
    const known = this.known.get(id);
    if (known === undefined) return;
    this.reserveNext();
    this.known.delete(id);
    this.append({ $case: 'vmRemoved', value: { id, name: name || known.name, reason } });
  }

  inventory(vms: readonly Vm[], skip: ReadonlySet<string> = new Set()): void {
    const present = new Set<string>(skip);
    for (const vm of vms) {
      present.add(vm.id);
      if (!skip.has(vm.id)) this.vm(vm);
    }
    for (const [id, vm] of [...this.known]) {
      if (!present.has(id)) this.vmRemoved(id, vm.name, RemovalReason.VM_REMOVAL_REASON_UNDEFINED);
    }
  }

  host(info: HostInfo): void {
    if (sameRecord(this.hostInfo, info)) return;
    const first = this.hostInfo === undefined;
    if (!first) this.reserveNext();
    this.hostInfo = info;
    // The first host record goes out in Hello and in every snapshot; only later changes are entries.
    if (!first) this.append({ $case: 'hostUpdated', value: info });
  }

  /** True when every change after `cursor` is still here to replay. */
  reaches(cursor: number): boolean {
    return cursor >= this.floorCursor && cursor <= this.headCursor;
  }

  /**
   * Whether a session may replay after the controller's applied cursor: the journal reaches it and the
   * controller has acknowledged something of this run, so that cursor is not a number from an earlier
   * run that this run's entries reuse (see the class comment). Otherwise a snapshot.
   */
  canReplayFrom(cursor: number): boolean {
    return this.confirmed && this.reaches(cursor);
  }

  /** Up to `max` consecutive entries after `cursor` (which `reaches`). */
  entriesAfter(cursor: number, max: number): StateChange[] {
    if (!this.reaches(cursor)) return [];
    const start = this.offset + (cursor - this.floorCursor);
    return this.entries.slice(start, Math.min(start + max, this.entries.length));
  }

  /** The current picture, consistent with `head`. */
  snapshot(): JournalSnapshot {
    return { cursor: this.headCursor, host: this.hostInfo, vms: [...this.known.values()] };
  }

  /**
   * The controller durably applied everything up to `cursor`: those entries are no longer needed. A
   * cursor beyond `head` (which the agent never sent) trims nothing.
   */
  acknowledge(cursor: number): void {
    if (cursor > this.headCursor) return;
    if (cursor >= this.runFloor) this.confirmed = true;
    if (cursor <= this.floorCursor) return;
    this.dropThrough(cursor);
  }

  /**
   * The controller has applied a cursor beyond our head (the cursor file was lost): move past it so the
   * cursor keeps growing. The entries we hold are numbered below it and can never be replayed.
   */
  advancePast(cursor: number): void {
    if (cursor < this.headCursor) return;
    this.cursors.ensure(cursor + 1);
    this.entries = [];
    this.offset = 0;
    this.headCursor = cursor + 1;
    this.floorCursor = this.headCursor;
  }

  /**
   * Makes the next cursor safe to hand out before the known records change: writing a new block of the
   * cursor file can fail (a full disk), and a record changed without its entry would make the same
   * report look known, never sent.
   */
  private reserveNext(): void {
    this.cursors.ensure(this.headCursor + 1);
  }

  /** Appends the next entry; its caller reserved the cursor (reserveNext) before changing its records. */
  private append(change: StateChange['change']): void {
    const cursor = this.headCursor + 1;
    this.headCursor = cursor;
    this.entries.push({ cursor, observedAtMs: this.now(), change });
    if (this.size > this.capacity) this.dropThrough(this.floorCursor + 1);
    for (const listener of this.listeners) listener();
  }

  private dropThrough(cursor: number): void {
    this.offset += cursor - this.floorCursor;
    this.floorCursor = cursor;
    // Compact once the dropped prefix outweighs what is kept, so trimming stays O(1) amortized.
    if (this.offset > 1024 && this.offset * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.offset);
      this.offset = 0;
    }
  }
}
