// Taken when this module loads: a test's fake timers replace the globals later and must not stop or
// drive the spin (it is bounded by real time).
const setImmediateReal = setImmediate;
const now = performance.now.bind(performance);

/**
 * Keeps the event loop polling (a chain of setImmediate: each turn polls I/O without blocking) for
 * up to a budget after the last activity, while `inFlight()` says calls await replies. Costs at most
 * the budget in CPU per wait; a call that takes longer finds the loop asleep, as without it.
 *
 * Opt-in (RpcClientOptions.busyPollUs), for a client with a CPU to spare. Measured against libvirtd
 * (docs/benchmarks.md, bench:libvirt, "Busy polling"): when our single event-loop thread sleeps
 * between replies, libvirtd spends 30-50 % more CPU per call than it does serving python3-libvirt's
 * threads, which stay busy; with a 200 µs budget its cost falls to python's, sequential calls run
 * ~1.3x as fast and calls in flight reach parity with python's best. The price is CPU: the client
 * spends about twice as much per call, and on one CPU the spin takes the daemon's time (half the
 * throughput). An agent shares its host with the guests, so it is off by default.
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
