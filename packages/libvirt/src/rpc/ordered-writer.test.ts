import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { OrderedWriter } from './ordered-writer.ts';

/** A real stream that records each write; `hold` keeps writes unfinished so its buffer fills. */
function recordingStream(options: { highWaterMark?: number; hold?: boolean } = {}) {
  const writes: Buffer[] = [];
  const pending: (() => void)[] = [];
  const stream = new Writable({
    highWaterMark: options.highWaterMark ?? 16 * 1024,
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk);
      if (options.hold) pending.push(() => done());
      else done();
    },
  });
  const releaseAll = () => {
    for (const done of pending.splice(0)) done();
  };
  return { stream, writes, releaseAll };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

describe('OrderedWriter', () => {
  it('sends each packet as it is written, in order, without a copy', () => {
    const { stream, writes } = recordingStream();
    const w = new OrderedWriter(stream as never);
    const packets = [bytes(3, 1), bytes(2, 2), bytes(1, 3)];
    for (const p of packets) w.write(p);
    // Synchronously: nothing waits for a later tick.
    expect(writes).toHaveLength(3);
    for (const [i, p] of packets.entries()) expect(writes[i]).toBe(p);
  });

  it('holds what is written while the stream is full, and sends it in one write on drain', async () => {
    const s = recordingStream({ highWaterMark: 4, hold: true });
    const w = new OrderedWriter(s.stream as never);
    w.write(bytes(8, 1)); // over the high-water mark: the stream asks us to wait
    expect(s.writes).toHaveLength(1);
    w.write(bytes(1, 2));
    w.write(bytes(1, 3));
    await tick();
    await tick();
    expect(s.writes, 'nothing more is written before drain').toHaveLength(1);
    expect(s.stream.writableLength, 'held by the writer, not piled up in the stream').toBe(8);
    s.releaseAll();
    await expect
      .poll(() => s.writes.length, { timeout: 2000, message: 'the held packets after drain' })
      .toBe(2);
    expect(s.writes[1]?.toString('hex')).toBe('0203');
  });

  it('packets that fill the stream together hold what follows', async () => {
    const s = recordingStream({ highWaterMark: 4, hold: true });
    const w = new OrderedWriter(s.stream as never);
    w.write(bytes(3, 1)); // under the mark: taken
    w.write(bytes(3, 2)); // 6 bytes in the stream now: full
    w.write(bytes(1, 3));
    expect(s.stream.writableLength, 'the third is held by the writer').toBe(6);
    s.releaseAll();
    await expect.poll(() => s.writes.length, { timeout: 2000 }).toBe(2);
    s.releaseAll();
    await expect
      .poll(() => s.writes.length, { timeout: 2000, message: 'the packet held while full' })
      .toBe(3);
    expect(s.writes.map((b) => b.toString('hex'))).toEqual(['010101', '020202', '03']);
  });

  it('on drain, writes what was held over 64 KiB packet by packet rather than copying it', async () => {
    const s = recordingStream({ highWaterMark: 4, hold: true });
    const w = new OrderedWriter(s.stream as never);
    w.write(bytes(8, 0));
    const big = [bytes(40 * 1024, 1), bytes(30 * 1024, 2)];
    for (const b of big) w.write(b);
    s.releaseAll();
    await expect.poll(() => s.writes.length, { timeout: 2000 }).toBe(2);
    expect(s.writes[1]).toBe(big[0]);
    s.releaseAll();
    await expect.poll(() => s.writes.length, { timeout: 2000 }).toBe(3);
    expect(s.writes[2]).toBe(big[1]);
  });

  it('on drain, writes exactly 64 KiB held as one', async () => {
    const s = recordingStream({ highWaterMark: 4, hold: true });
    const w = new OrderedWriter(s.stream as never);
    w.write(bytes(8, 0));
    for (const b of [bytes(32 * 1024, 3), bytes(32 * 1024, 4)]) w.write(b);
    s.releaseAll();
    await expect.poll(() => s.writes.length, { timeout: 2000 }).toBe(2);
    expect(s.writes[1]?.length).toBe(64 * 1024);
  });

  it('clear drops what is held and has not been written', async () => {
    const s = recordingStream({ highWaterMark: 4, hold: true });
    const w = new OrderedWriter(s.stream as never);
    w.write(bytes(8, 1));
    w.write(bytes(2, 2));
    w.clear();
    s.releaseAll();
    await expect.poll(() => s.stream.writableLength, { timeout: 2000 }).toBe(0);
    await tick();
    expect(s.writes.map((b) => b.toString('hex'))).toEqual(['0101010101010101']);
    w.write(bytes(1, 5));
    expect(s.writes.map((b) => b.toString('hex'))).toEqual(['0101010101010101', '05']);
  });
});
