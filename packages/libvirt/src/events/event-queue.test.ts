import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.ts';

async function drain<T>(q: EventQueue<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of q) out.push(v);
  return out;
}

describe('EventQueue', () => {
  it('hands a pushed item straight to a waiting consumer, buffering nothing', async () => {
    const q = new EventQueue<number>({ maxBuffered: 1 });
    const next = q.next();
    q.push(1);
    expect(await next).toEqual({ value: 1, done: false });
    expect(q.buffered).toBe(0);
  });

  it('dropOldest: keeps the newest maxBuffered items and counts the dropped ones', async () => {
    const q = new EventQueue<number>({ maxBuffered: 3 });
    for (let i = 1; i <= 5; i++) q.push(i);
    expect(q.dropped).toBe(2);
    expect(q.buffered).toBe(3);
    q.end();
    expect(await drain(q)).toEqual([3, 4, 5]);
  });

  it('fail: delivers what is buffered, then throws the overflow error once, and ends', async () => {
    const overflow = new Error('overflow');
    let returned = 0;
    const q = new EventQueue<number>({
      maxBuffered: 2,
      overflow: 'fail',
      overflowError: () => overflow,
      onReturn: () => returned++,
    });
    for (let i = 1; i <= 3; i++) q.push(i);
    q.push(4); // after the failure: ignored
    expect(returned).toBe(1);
    expect(await q.next()).toEqual({ value: 1, done: false });
    expect(await q.next()).toEqual({ value: 2, done: false });
    await expect(q.next()).rejects.toBe(overflow);
    expect(await q.next()).toEqual({ value: undefined, done: true });
    expect(q.dropped).toBe(0);
  });

  it('a failure while the consumer waits rejects that wait once', async () => {
    const q = new EventQueue<number>();
    const waiting = q.next();
    const err = new Error('gone');
    q.fail(err);
    await expect(waiting).rejects.toBe(err);
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });

  it('return() drops the buffer and runs onReturn once', async () => {
    let returned = 0;
    const q = new EventQueue<number>({ onReturn: () => returned++ });
    q.push(1);
    await q.return();
    await q.return();
    q.end();
    expect(returned).toBe(1);
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });
});
