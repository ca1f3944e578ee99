/** Something that advances on the ticker's beat. */
export type TickListener = (nowMs: number) => void;

/**
 * One interval timer shared by every simulated hypervisor of a process: a thousand simulated agents in
 * one benchmark process cost one timer, not a thousand. Runs only while someone listens, and never keeps
 * the process alive on its own.
 */
export class SharedTicker {
  private readonly listeners = new Set<TickListener>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly periodMs = 100,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls `listener` every period from now on; returns the function that stops it. */
  add(listener: TickListener): () => void {
    this.listeners.add(listener);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.beat(), this.periodMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  get size(): number {
    return this.listeners.size;
  }

  private beat(): void {
    const now = this.now();
    for (const listener of this.listeners) listener(now);
  }
}

/** The ticker simulated drivers use unless given their own. */
export const defaultTicker = new SharedTicker();
