import type { Logger } from 'pino';

/** How one job of a group ended: its outcome, or the error that failed it alone. */
export type Settled<R> = { outcome: R } | { error: unknown };

/** A job waiting for a group: its weight (changes, VMs) and how its caller learns how it ended. */
export interface GroupJob<R> {
  size: number;
  settle: (result: Settled<R>) => void;
}

/**
 * Group commit: jobs queued while the transactions in flight run go together into the next one, up to
 * `maxSize` in weight (one job larger than that goes alone). At low load each job gets its own
 * transaction at once; under load the transaction count stays at `maxGroups` while the work per
 * transaction grows, and with it the work per round trip to the database.
 *
 * `apply` runs one group in one transaction and returns each job's result in order. If it throws (a
 * deadlock with another group, a lost connection), that fails none of the group's jobs by itself: each
 * is tried again on its own, and only its own failure fails it.
 */
export function createGroupQueue<J extends GroupJob<R>, R>(options: {
  maxGroups: number;
  maxSize: number;
  apply: (jobs: J[]) => Promise<Settled<R>[]>;
  log: Logger;
  /** What the jobs are, for the log line of a failed group ("batches", "snapshots"). */
  what: string;
}): (job: J) => void {
  const { maxGroups, maxSize, apply, log, what } = options;
  const queue: J[] = [];
  let running = 0;

  async function applyAlone(job: J): Promise<void> {
    try {
      const [result] = await apply([job]);
      job.settle(result ?? { error: new Error('no result') });
    } catch (error) {
      job.settle({ error });
    }
  }

  async function run(group: J[]): Promise<void> {
    if (group.length === 1) return applyAlone(group[0] as J);
    try {
      const results = await apply(group);
      for (const [i, job] of group.entries()) job.settle(results[i] ?? { error: new Error('no result') });
    } catch (err) {
      log.warn({ err, [what]: group.length }, `a group of ${what} failed; applying them one by one`);
      for (const job of group) await applyAlone(job);
    }
  }

  function pump(): void {
    while (running < maxGroups && queue.length > 0) {
      const group: J[] = [];
      let size = 0;
      while (queue.length > 0 && (group.length === 0 || size + (queue[0]?.size ?? 0) <= maxSize)) {
        const job = queue.shift() as J;
        group.push(job);
        size += job.size;
      }
      running += 1;
      void run(group).finally(() => {
        running -= 1;
        pump();
      });
    }
  }

  return (job) => {
    queue.push(job);
    pump();
  };
}
