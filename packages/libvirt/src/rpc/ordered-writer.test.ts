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
  it('sends packets queued in one tick as one write, in order', async () => {
    const { stream, writes } = recordingStream();
    const w = new OrderedWriter(stream as never);
    w.write(bytes(3, 1));
    w.write(bytes(2, 2));
    w.write(bytes(1, 3));
    expect(writes).toHaveLength(0);
    await tick();
    expect(writes.map((b) => b.toString('hex'))).toEqual(['0101010202' + '03']);
  });

  it('passes a lone packet through as it is, without a copy', async () => {
    const { stream, writes } = recordingStream();
    const w = new OrderedWriter(stream as never);
    const packet = bytes(8, 7);
    w.write(packet);
    await tick();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toBe(packet);
  });

  it('writes a batch over 64 KiB packet by packet rather than copying it', async () => {
    const { stream, writes } = recordingStream({ highWaterMark: 1024 * 1024 });
    const w = new OrderedWriter(stream as never);
    const big = [bytes(40 * 1024, 1), bytes(30 * 1024, 2)];
    for (const b of big) w.write(b);
    await tick();
    expect(writes).toHaveLength(2);
    expect(writes[0]).toBe(big[0]);
    expect(writes[1]).toBe(big[1]);
    // Exactly 64 KiB is still one write.
    const exact = [bytes(32 * 1024, 3), bytes(32 * 1024, 4)];
    for (const b of exact) w.write(b);
    await tick();
    expect(writes).toHaveLength(3);
    expect(writes[2]?.length).toBe(64 * 1024);
  });

  it('holds what is queued while the stream is full, and sends it in one write on drain', async () => {
    const s = recordingStream({ highWaterMark: 4, hold: true });
    const w = new OrderedWriter(s.stream as never);
    w.write(bytes(8, 1)); // over the high-water mark: the stream asks us to wait
    await tick();
    expect(s.writes).toHaveLength(1);
    w.write(bytes(1, 2));
    w.write(bytes(1, 3));
    await tick();
    await tick();
    expect(s.writes, 'nothing more is written before drain').toHaveLength(1);
    expect(s.stream.writableLength, 'held by the writer, not piled up in the stream').toBe(8);
    s.releaseAll();
    await expect
      .poll(() => s.writes.length, { timeout: 2000, message: 'the queued packets after drain' })
      .toBe(2);
    expect(s.writes[1]?.toString('hex')).toBe('0203');
  });

  it('the same holds when the packets that fill the stream were written one by one', async () => {
    const s = recordingStream({ highWaterMark: 4, hold: true });
    const w = new OrderedWriter(s.stream as never);
    w.write(bytes(40 * 1024, 1));
    w.write(bytes(30 * 1024, 2));
    await tick();
    expect(s.writes).toHaveLength(1); // the second waits inside the stream, which is full
    w.write(bytes(1, 9));
    await tick();
    expect(s.stream.writableLength, 'held by the writer, not piled up in the stream').toBe(70 * 1024);
    s.releaseAll();
    await expect.poll(() => s.writes.length, { timeout: 2000 }).toBe(2);
    s.releaseAll();
    await expect
      .poll(() => s.writes.length, { timeout: 2000, message: 'the packet queued while full' })
      .toBe(3);
    expect(s.writes[2]?.toString('hex')).toBe('09');
  });

  it('a coalesced write that fills the stream holds what follows too', async () => {
    const s = recordingStream({ highWaterMark: 4, hold: true });
    const w = new OrderedWriter(s.stream as never);
    w.write(bytes(3, 1));
    w.write(bytes(3, 2));
    await tick();
    expect(s.writes.map((b) => b.length)).toEqual([6]);
    w.write(bytes(1, 3));
    await tick();
    expect(s.stream.writableLength).toBe(6);
    s.releaseAll();
    await expect
      .poll(() => s.writes.length, { timeout: 2000, message: 'the packet queued while full' })
      .toBe(2);
    expect(s.writes[1]?.toString('hex')).toBe('03');
  });

  it('clear drops what has not been written', async () => {
    const { stream, writes } = recordingStream();
    const w = new OrderedWriter(stream as never);
    w.write(bytes(2, 1));
    w.clear();
    await tick();
    expect(writes).toHaveLength(0);
    w.write(bytes(1, 5));
    await tick();
    expect(writes.map((b) => b.toString('hex'))).toEqual(['05']);
  });
});
