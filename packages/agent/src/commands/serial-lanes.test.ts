import { describe, expect, it } from 'vitest';
import { SerialLanes } from './serial-lanes.ts';

/** Lets every promise callback already due run. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A task that records its start and end, and ends when `finish` is called. */
function task(events: string[], name: string) {
  let finish!: () => void;
  const ended = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return {
    finish: () => finish(),
    run: async () => {
      events.push(`${name} start`);
      await ended;
      events.push(`${name} end`);
    },
  };
}

describe('SerialLanes', () => {
  it('runs one key’s tasks in order, each after the one before ended; other keys and no key at once', async () => {
    const lanes = new SerialLanes();
    const events: string[] = [];
    const a1 = task(events, 'a1');
    const a2 = task(events, 'a2');
    const b1 = task(events, 'b1');
    const free = task(events, 'free');
    const all = [
      lanes.run('a', a1.run),
      lanes.run('a', a2.run),
      lanes.run('b', b1.run),
      lanes.run(undefined, free.run),
    ];
    await settled();
    expect([...events].sort()).toEqual(['a1 start', 'b1 start', 'free start']);
    a2.finish();
    b1.finish();
    free.finish();
    await Promise.all(all.slice(2));
    await settled();
    expect(events).not.toContain('a2 start');
    a1.finish();
    await Promise.all(all);
    expect(events.filter((e) => e.startsWith('a'))).toEqual(['a1 start', 'a1 end', 'a2 start', 'a2 end']);
    expect(lanes.size).toBe(0);
  });

  it('goes on with the next task of a key after one failed', async () => {
    const lanes = new SerialLanes();
    const ran: string[] = [];
    const failing = lanes.run('a', async () => {
      ran.push('failing');
      throw new Error('boom');
    });
    const next = lanes.run('a', async () => {
      ran.push('next');
    });
    await Promise.all([failing, next]);
    expect(ran).toEqual(['failing', 'next']);
  });
});
