import { jittered } from './backoff.ts';

export interface LivenessOptions {
  intervalMs: number;
  deadlineMs: number;
  /** Time to send a heartbeat: nothing else went out since the last beat. */
  beat: () => void;
  /** Nothing arrived for `deadlineMs`. */
  expired: (silentMs: number) => void;
  now?: () => number;
}

/**
 * The agent's half of the heartbeat rules: a heartbeat at a jittered interval when nothing else was
 * sent, and the end of the session when nothing arrived from the controller within its deadline. Two
 * timers per session, neither re-armed per message: receiving only stamps the time, and the deadline
 * timer, when it fires early, sleeps for the rest.
 */
export class Liveness {
  private lastReceived: number;
  private sentSinceBeat = false;
  private beatTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly options: LivenessOptions) {
    this.now = options.now ?? Date.now;
    this.lastReceived = this.now();
  }

  start(): void {
    this.scheduleBeat();
    this.armDeadline(this.options.deadlineMs);
  }

  received(): void {
    this.lastReceived = this.now();
  }

  sent(): void {
    this.sentSinceBeat = true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.beatTimer);
    clearTimeout(this.deadlineTimer);
  }

  private scheduleBeat(): void {
    this.beatTimer = setTimeout(() => {
      if (this.stopped) return;
      if (!this.sentSinceBeat) this.options.beat();
      this.sentSinceBeat = false;
      this.scheduleBeat();
    }, jittered(this.options.intervalMs));
    this.beatTimer.unref();
  }

  private armDeadline(ms: number): void {
    this.deadlineTimer = setTimeout(() => {
      if (this.stopped) return;
      const silent = this.now() - this.lastReceived;
      if (silent >= this.options.deadlineMs) this.options.expired(silent);
      else this.armDeadline(this.options.deadlineMs - silent);
    }, ms);
    this.deadlineTimer.unref();
  }
}
