export interface KeepaliveOptions {
  /** How long the peer may stay silent before we ping it, ms (libvirt's default: 5 s). 0 disables. */
  intervalMs: number;
  /** Unanswered pings after which the peer is declared dead (libvirt's default: 5). */
  count: number;
}

/** libvirt's defaults (virKeepAliveStart: 5 s interval, 5 pings). */
export const DEFAULT_KEEPALIVE: KeepaliveOptions = { intervalMs: 5000, count: 5 };

/**
 * libvirt's keepalive, client side: whenever the peer has been silent for `intervalMs` we send a PING;
 * any packet from the peer (PONG or otherwise) proves it alive. After `count` unanswered pings and
 * one more silent interval, `onDead` fires.
 */
export class Keepalive {
  private timer: NodeJS.Timeout | null = null;
  private lastRx = Date.now();
  private unanswered = 0;

  constructor(
    private readonly opts: KeepaliveOptions,
    private readonly sendPing: () => void,
    private readonly onDead: (silentMs: number) => void,
  ) {}

  start(): void {
    if (this.opts.intervalMs <= 0 || this.timer !== null) return;
    this.lastRx = Date.now();
    // Ticks at a fraction of the interval so the silence is measured, not rounded up to two intervals.
    const tick = Math.max(1, Math.floor(this.opts.intervalMs / 4));
    this.timer = setInterval(() => this.check(), tick);
    // The socket keeps the process alive while the connection is open; the timer need not.
    this.timer.unref();
  }

  received(): void {
    this.lastRx = Date.now();
    this.unanswered = 0;
  }

  stop(): void {
    // Stryker disable next-line ConditionalExpression: clearInterval(null) is a no-op; the check is for the reader
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private check(): void {
    const silent = Date.now() - this.lastRx;
    if (silent < this.opts.intervalMs * (this.unanswered + 1)) return;
    if (this.unanswered >= this.opts.count) {
      this.stop();
      this.onDead(silent);
      return;
    }
    this.unanswered++;
    this.sendPing();
  }
}
