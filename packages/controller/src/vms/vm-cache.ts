import type { Logger } from 'pino';
import { ChangeTail } from '../changes/change-tail.ts';
import type { Sql } from '../database/sql.ts';
import type { Notifier } from '../notifier/notifier.ts';
import type { VmFilter, VmPosition } from './vm-queries.ts';
import type { VmView } from './vm-schema.ts';
import { type StoredHost, type StoredVm, VmStore, type VmWrite } from './vm-store.ts';

/** How often hosts' last-seen times are re-read (the agent hub writes them once a second, unlogged). */
const LIVENESS_MS = 1_000;
/**
 * Most pages of one renderer kept at one generation: dashboards poll a few pages, and a crawler's every
 * page must not pile up (64 pages of 1,000 VMs, the largest, are ~22 MB of JSON).
 */
const MAX_RENDERED_PAGES = 64;

/**
 * This replica's VM reads, from memory (kube-apiserver's watch cache, fed by the change log rather
 * than etcd's watch). Loaded from the tables as of one snapshot on first use, then tailed from that
 * snapshot with no gap (ChangeTail).
 *
 * When does a read wait for the database? With a PostgreSQL server, the change log's trigger notifies
 * every replica at each commit that logged changes (LISTEN cockpit_changes), and this replica's own
 * writers say so right after their commits (`committed`, with the rows when they have them: applied at
 * once, read-your-writes without a round trip). A read waits for one tail read only while the cache
 * knows it is behind (a notification or a local commit since its last tail read began), or for the tail
 * read in flight (it carries a commit announced before the request); otherwise it is answered from
 * memory at once, as current as the last notification delivered. So a quiet fleet's
 * lists cost no query at all, and a busy one's readers share one tail read that returns only what
 * changed. The embedded database has no listener: there every read waits for a tail read (in-process,
 * one connection), so whatever committed before the request is in the answer, as kube-apiserver's
 * consistent reads from cache do (1.31). Hosts' last-seen times are re-read at most once a second
 * (written so, outside the change log): `confirmed_at` may lag the table by that much.
 */
export class VmCache {
  private readonly store = new VmStore();
  private tail: ChangeTail | undefined;
  private loading: Promise<void> | undefined;
  /** The tail read in flight, and the one queued after it (readers arriving meanwhile wait for it). */
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private livenessAt = 0;
  /** Something committed since the last tail read began (a notification, a local commit). */
  private behind = true;
  private readonly unsubscribe: Array<() => void> = [];
  /** Pages rendered at `renderedAt` (the store's generation), by renderer, then by filter and page. */
  private readonly rendered = new Map<object, Map<string, unknown>>();
  private renderedAt = -1;

  constructor(
    private readonly deps: {
      sql: Sql;
      log: Logger;
      /** Delivers the change log's notifications (a PostgreSQL server); without it every read catches up. */
      notifier?: Notifier;
      now?: () => number;
    },
  ) {
    const { notifier } = deps;
    if (notifier !== undefined) {
      this.unsubscribe.push(
        notifier.subscribe('changes', () => this.committed()),
        notifier.onResync(() => this.committed()),
      );
    }
  }

  /**
   * Changes were committed (here or, through a notification, anywhere): the next read catches up, and
   * the VM writes given (the sync ingest's own, with their change ids) are applied now.
   */
  committed(writes: readonly VmWrite[] = [], at?: Date): void {
    this.behind = true;
    if (this.tail === undefined) return;
    if (writes.length > 0) {
      const iso = (at ?? new Date()).toISOString();
      for (const w of writes) this.store.applyWrite(w, iso);
      this.tail.applied(writes.map((w) => w.changeId));
    }
    void this.catchUp().catch((err: unknown) => this.deps.log.warn({ err }, 'VM cache: tail read failed'));
  }

  /** The VMs held (for /metrics and the tests). */
  get size(): number {
    return this.store.size;
  }

  async list(filter: VmFilter, page: { limit: number; after?: VmPosition }): Promise<VmView[]> {
    await this.current();
    return this.store.list(filter, page);
  }

  /**
   * A page as `render` makes it (the list route: its JSON body), made once per change to the store and
   * shared by every reader of the same page meanwhile: under 100 clients polling the first page, the
   * serialisation of 100 VMs, not the lookup, was most of a request's cost. `key` names the renderer
   * (a module-level constant: renderings are reused by it), `render` makes the rendering from the page.
   */
  async listRendered<T>(
    key: object,
    filter: VmFilter,
    page: { limit: number; after?: VmPosition },
    render: (vms: VmView[]) => T,
  ): Promise<T> {
    await this.current();
    if (this.renderedAt !== this.store.generation) {
      this.rendered.clear();
      this.renderedAt = this.store.generation;
    }
    let pages = this.rendered.get(key);
    if (pages === undefined) {
      pages = new Map();
      this.rendered.set(key, pages);
    }
    const pageKey = JSON.stringify([
      filter.hostId?.toLowerCase(),
      filter.state,
      filter.name,
      page.limit,
      page.after?.name,
      page.after?.id.toLowerCase(),
    ]);
    if (pages.has(pageKey)) return pages.get(pageKey) as T;
    if (pages.size >= MAX_RENDERED_PAGES) pages.clear();
    const rendering = render(this.store.list(filter, page));
    pages.set(pageKey, rendering);
    return rendering;
  }

  async get(id: string): Promise<VmView | null> {
    await this.current();
    return this.store.get(id);
  }

  /**
   * The host holding a VM as of the last tail read (undefined: none), without waiting: callers that
   * need it current await `catchUp()` first, once for many lookups (the metric ingest, once per flush).
   */
  hostOf(vmId: string): string | undefined {
    return this.store.hostOf(vmId);
  }

  /** Waits for a tail read when the cache may be behind what committed before this call. */
  private current(): Promise<void> | undefined {
    if (this.deps.notifier !== undefined && !this.behind && this.tail !== undefined) {
      this.refreshLivenessSoon();
      // A read in flight began after the last commit this cache heard of (a commit since would have set
      // `behind`), but has not applied it yet: answering from memory now would miss a change whose
      // commit (or ack, or notification) came before this request.
      return this.running;
    }
    return this.catchUp();
  }

  /** Re-reads last-seen times in the background when due (a quiet cache makes no tail reads). */
  private refreshLivenessSoon(): void {
    if ((this.deps.now ?? Date.now)() - this.livenessAt < LIVENESS_MS) return;
    void this.refreshLiveness().catch((err: unknown) =>
      this.deps.log.warn({ err }, 'VM cache: liveness read failed'),
    );
  }

  /** Resolves once a tail read that started after this call has been applied. */
  catchUp(): Promise<void> {
    // A load in flight may have taken its snapshot before this call: one tail read after it.
    if (this.tail === undefined) return this.load().then(() => this.catchUp());
    if (this.running === undefined) return this.startRead();
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.startRead();
      });
    return this.queued;
  }

  close(): void {
    for (const off of this.unsubscribe) off();
  }

  private startRead(): Promise<void> {
    const run = this.read().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async read(): Promise<void> {
    const tail = this.tail as ChangeTail;
    this.behind = false;
    // The tail read has moved its position once it answers: its changes are applied whatever the
    // liveness read beside it does, or they would be lost to this replica for good.
    const liveness = this.refreshLiveness().catch((err: unknown) =>
      this.deps.log.warn({ err }, 'VM cache: liveness read failed'),
    );
    try {
      const changes = await tail.read(this.deps.sql);
      for (const change of changes) this.store.apply(change);
    } catch (err) {
      // Still behind: the next read does not answer from memory but tries again.
      this.behind = true;
      throw err;
    } finally {
      await liveness;
    }
  }

  private async refreshLiveness(force = false): Promise<void> {
    const now = (this.deps.now ?? Date.now)();
    if (!force && now - this.livenessAt < LIVENESS_MS) return;
    this.livenessAt = now;
    const rows = await this.deps.sql<{ id: string; last_seen_at: Date | null }[]>`
      select id, last_seen_at from hosts`;
    for (const r of rows) this.store.setLastSeen(r.id, r.last_seen_at?.toISOString() ?? null);
  }

  /** Loads the tables and the tail position from one snapshot (repeatable read), once. */
  private load(): Promise<void> {
    this.loading ??= (async () => {
      const started = performance.now();
      // A cursor, so 50,000 rows never sit in memory twice (the rows and the store) at once.
      const { vms, hosts, position } = await this.deps.sql.begin(
        'isolation level repeatable read read only',
        async (tx) => {
          const position = await ChangeTail.positionOf(tx);
          const hosts = await tx<{ id: string; status: StoredHost['status']; last_seen_at: Date | null }[]>`
            select id, status, last_seen_at from hosts`;
          this.store.startLoad(
            hosts.map((h) => ({
              id: h.id,
              status: h.status,
              last_seen_at: h.last_seen_at?.toISOString() ?? null,
            })),
          );
          let vms = 0;
          await tx<(Omit<StoredVm, 'confirmed_at' | 'updated_at'> & TimeColumns)[]>`
            select v.id, v.host_id, v.name, v.state, v.state_reason, v.vcpus, v.memory_mib, v.max_memory_mib,
                   v.persistent, v.autostart, v.confirmed_at, v.updated_at,
                   (select array_agg(c.host_id order by c.host_id) from vm_conflicts c where c.vm_id = v.id)
                     as conflict_host_ids
            from vms v`.cursor(2_000, (rows) => {
            for (const v of rows) {
              this.store.add({
                ...v,
                confirmed_at: v.confirmed_at?.toISOString() ?? null,
                updated_at: v.updated_at.toISOString(),
              });
            }
            vms += rows.length;
          });
          this.store.endLoad();
          return { vms, hosts: hosts.length, position };
        },
      );
      this.livenessAt = (this.deps.now ?? Date.now)();
      this.tail = new ChangeTail(position, ['vm', 'host']);
      this.deps.log.info(
        {
          vms,
          hosts,
          version: position.top,
          ms: Math.round(performance.now() - started),
        },
        'VM cache loaded',
      );
    })();
    this.loading.catch(() => {
      // A failed load (the database away) is tried again by the next read.
      this.loading = undefined;
    });
    return this.loading;
  }
}

interface TimeColumns {
  confirmed_at: Date | null;
  updated_at: Date;
}
