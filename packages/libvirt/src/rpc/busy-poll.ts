import { availableParallelism } from 'node:os';

// Taken when this module loads: a test's fake timers replace the globals later and must not stop or
// drive the spin (it is bounded by real time).
const setImmediateReal = setImmediate;
const now = performance.now.bind(performance);

/**
 * How long the event loop stays awake after a call leaves or a reply arrives, while calls are in
 * flight (µs): 200 where this process may run on more than one CPU, else 0 (off).
 *
 * Why (measured against libvirtd, docs/benchmarks.md, bench:libvirt, "Busy polling"): when our
 * single event-loop thread sleeps between replies, libvirtd spends 30-50 % more CPU per call than it
 * does serving python3-libvirt's threads, which stay busy; `perf sched` shows the two processes
 * then sharing vCPUs, switching between each other three to four times as often as when our thread
 * stays awake. Awake, libvirtd's cost falls to python's, calls in flight reach parity with python's
 * best, and sequential calls run ~1.3x as fast. It costs the client CPU (at most the budget per
 * wait). On one CPU the spin would take the daemon's time instead (half the throughput, measured),
 * hence 0 there.
 */
export function defaultBusyPollUs(cpus: number = availableParallelism()): number {
  return cpus > 1 ? 200 : 0;
}

/**
 * Keeps the event loop polling (a chain of setImmediate: each turn polls I/O without blocking) for
 * up to a budget after the last activity, while `inFlight()` says calls await replies. Costs at most
 * the budget in CPU per wait; a call that takes longer finds the loop asleep, as without it.
 */
export class BusyPoll {
  private readonly budgetMs: number;
  private lastActivity = 0;
  private spinning = false;

  constructor(
    budgetUs: number,
    private readonly inFlight: () => boolean,
  ) {
    this.budgetMs = Math.max(0, budgetUs) / 1000;
  }

  get active(): boolean {
    return this.spinning;
  }

  /** A call left or a reply arrived: the budget starts again. */
  touch(): void {
    if (this.budgetMs === 0) return;
    this.lastActivity = now();
    if (!this.spinning && this.inFlight()) {
      this.spinning = true;
      setImmediateReal(this.spin);
    }
  }

  private readonly spin = (): void => {
    if (this.inFlight() && now() - this.lastActivity < this.budgetMs) setImmediateReal(this.spin);
    else this.spinning = false;
  };
}
