/**
 * What crosses controller replicas: short signals on a few topics, each naming what changed (ids), never
 * carrying state (readers take the state from the database). Two implementations behind this one
 * interface: in-process for the embedded database (one connection, one controller, no LISTEN/NOTIFY),
 * PostgreSQL LISTEN/NOTIFY for a server shared by replicas.
 */
export const TOPICS = {
  /** A command row waits for delivery: `<host id> <command id>`. The replica holding the host's stream sends it. */
  commands: 'cockpit_commands',
  /** A host's stream changed hands or was revoked: `<host id> <epoch>` (epoch -1: revoked). */
  streams: 'cockpit_streams',
  /** An operation changed: `<operation id>`. Wakes callers waiting for its result. */
  operations: 'cockpit_operations',
  /**
   * Something happened to a migration (new, a step's command answered, the destination reported its VM):
   * `<migration id>`. The replica holding its lease steps it; any replica takes it when nobody does.
   */
  migrations: 'cockpit_migrations',
  /**
   * The change log grew (sent by its trigger, migration 0008, at the commit of each transaction that
   * logged changes; no payload). Wakes the per-replica VM caches.
   */
  changes: 'cockpit_changes',
} as const;

export type Topic = keyof typeof TOPICS;

export interface Notifier {
  /** Signals every replica, this one included. Best effort: readers also poll at a coarse interval. */
  publish(topic: Topic, payload: string): Promise<void>;
  subscribe(topic: Topic, handler: (payload: string) => void): () => void;
  /**
   * Called after the notifier (re)connected: signals sent meanwhile may be lost, so whoever depends on
   * them looks at the database again.
   */
  onResync(handler: () => void): () => void;
  close(): Promise<void>;
}

/** Handlers per topic; the shared part of both implementations. */
export class Subscribers {
  private readonly handlers = new Map<Topic, Set<(payload: string) => void>>();
  private readonly resyncs = new Set<() => void>();

  add(topic: Topic, handler: (payload: string) => void): () => void {
    let set = this.handlers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(topic, set);
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  addResync(handler: () => void): () => void {
    this.resyncs.add(handler);
    return () => this.resyncs.delete(handler);
  }

  dispatch(topic: Topic, payload: string, onError: (err: unknown) => void): void {
    for (const handler of this.handlers.get(topic) ?? []) {
      try {
        handler(payload);
      } catch (err) {
        onError(err);
      }
    }
  }

  resync(onError: (err: unknown) => void): void {
    for (const handler of this.resyncs) {
      try {
        handler();
      } catch (err) {
        onError(err);
      }
    }
  }
}
