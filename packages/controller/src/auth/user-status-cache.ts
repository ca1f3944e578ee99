import type { UserStatus } from '../users/user-queries.ts';

export type { UserStatus };

/**
 * What each request's bearer check needs to know about its user, kept for a moment. Looking the
 * user up on every request halves the throughput of a simple authenticated read (measured with
 * bench:api), so each replica remembers a user for `ttlMs` (1 s by default): changes made through
 * this replica (every one goes through UserService) drop the entry at once; other replicas see them within
 * `ttlMs`. Concurrent misses for one user share one query. Monotonic time, not the injected clock:
 * this is a cache lifetime, not a business rule.
 */
export class UserStatusCache {
  private readonly entries = new Map<
    string,
    { until: number; status: Promise<UserStatus | null>; refreshing?: boolean }
  >();

  constructor(
    private readonly load: (userId: string) => Promise<UserStatus | null>,
    private readonly ttlMs = 1000,
    private readonly maxEntries = 10_000,
  ) {}

  get(userId: string): Promise<UserStatus | null> {
    const now = performance.now();
    const hit = this.entries.get(userId);
    if (hit !== undefined && hit.until > now) {
      // Past half its life, an entry is refreshed in the background while it still answers: a busy
      // user's requests never all wait on the lookup at once when it expires (a database slow under
      // load made that a latency spike every second, seen in bench:sync). No answer is older than ttlMs.
      if (hit.until - now < this.ttlMs / 2 && hit.refreshing !== true) {
        hit.refreshing = true;
        const status = this.load(userId);
        status.then(
          () => {
            // Its lifetime counts from when the lookup began.
            if (this.entries.get(userId) === hit)
              this.entries.set(userId, { until: now + this.ttlMs, status });
          },
          () => {
            hit.refreshing = false;
          },
        );
      }
      return hit.status;
    }
    if (this.entries.size >= this.maxEntries) this.evictExpired(now);
    const status = this.load(userId);
    this.entries.set(userId, { until: now + this.ttlMs, status });
    // A failed lookup is not remembered: the next request asks the database again.
    status.catch(() => {
      if (this.entries.get(userId)?.status === status) this.entries.delete(userId);
    });
    return status;
  }

  forget(userId: string): void {
    this.entries.delete(userId);
  }

  private evictExpired(now: number): void {
    for (const [id, entry] of this.entries) if (entry.until <= now) this.entries.delete(id);
    // Still full of live entries (a burst of distinct users): start over rather than grow.
    if (this.entries.size >= this.maxEntries) this.entries.clear();
  }
}
