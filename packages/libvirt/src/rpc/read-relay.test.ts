import { describe, expect, it } from 'vitest';
import { ReadRelay } from './read-relay.ts';

describe('ReadRelay', () => {
  it('hands reads to the sink as transient views of its one buffer', () => {
    const relay = new ReadRelay();
    const got: [string, boolean, boolean][] = [];
    relay.attach((chunk, transient) =>
      got.push([chunk.toString(), transient, chunk.buffer === relay.buffer.buffer]),
    );
    relay.buffer.write('abc');
    expect(relay.callback(3, relay.buffer)).toBe(true);
    expect(got).toEqual([['abc', true, true]]);
  });

  it('keeps copies of what arrives before a sink is attached, and delivers them first', () => {
    const relay = new ReadRelay();
    relay.buffer.write('early');
    relay.callback(5, relay.buffer);
    relay.buffer.write('xxxxx');
    const got: [string, boolean][] = [];
    relay.attach((chunk, transient) => got.push([chunk.toString(), transient]));
    relay.buffer.write('late');
    relay.callback(4, relay.buffer);
    expect(got).toEqual([
      ['early', false],
      ['late', true],
    ]);
  });
});
