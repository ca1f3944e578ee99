import { ManualClock } from '../../src/clock.ts';

/**
 * A clock that follows the wall clock (agents compare command deadlines with theirs), which a test can
 * still move ahead with `advance` (to expire a join token without waiting).
 */
export class RealTimeClock extends ManualClock {
  private offset = 0;
  override now(): Date {
    return new Date(Date.now() + this.offset);
  }
  override advance(ms: number): void {
    this.offset += ms;
  }
}
