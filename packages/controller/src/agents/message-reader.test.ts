import { describe, expect, it } from 'vitest';
import { MessageReader } from './message-reader.ts';

/** An async iterator fed by hand: `push` makes a message arrive. */
function feed<T>() {
  const queue: T[] = [];
  let waiting: ((r: IteratorResult<T>) => void) | undefined;
  return {
    iterator: {
      next: () => {
        const value = queue.shift();
        if (value !== undefined) return Promise.resolve({ value, done: false as const });
        return new Promise<IteratorResult<T>>((resolve) => {
          waiting = resolve;
        });
      },
    } as AsyncIterator<T>,
    push(value: T) {
      if (waiting !== undefined) {
        const w = waiting;
        waiting = undefined;
        w({ value, done: false });
      } else queue.push(value);
    },
  };
}

describe('MessageReader', () => {
  it('takes only messages already queued, keeps a read that had to wait, and never reorders', async () => {
    const f = feed<number>();
    const reader = new MessageReader(f.iterator);
    f.push(1);
    f.push(2);
    expect(await reader.next()).toEqual({ value: 1, done: false });
    expect(await reader.queued()).toEqual({ value: 2, done: false });
    expect(await reader.queued()).toBeUndefined();
    f.push(3);
    expect(await reader.next()).toEqual({ value: 3, done: false });
    const waiting = reader.next();
    f.push(4);
    expect(await waiting).toEqual({ value: 4, done: false });
    f.push(5);
    const five = await reader.queued();
    expect(five).toEqual({ value: 5, done: false });
    if (five !== undefined) reader.unread(five);
    expect(await reader.next()).toEqual({ value: 5, done: false });
  });
});
