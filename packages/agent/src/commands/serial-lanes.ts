/**
 * Runs the tasks given under one key one after another, in the order given; tasks under different keys,
 * or under none, run side by side. A task's failure does not stop the ones after it.
 */
export class SerialLanes {
  private readonly tails = new Map<string, Promise<void>>();

  run(key: string | undefined, task: () => Promise<void>): Promise<void> {
    if (key === undefined) return task();
    const after = this.tails.get(key) ?? Promise.resolve();
    const done = after.then(task).catch(() => {});
    this.tails.set(key, done);
    void done.then(() => {
      if (this.tails.get(key) === done) this.tails.delete(key);
    });
    return done;
  }

  /** How many keys have tasks queued or running (for tests). */
  get size(): number {
    return this.tails.size;
  }
}
