import { describe, expect, it } from 'vitest';
import { checkFixedLength, isXdrError, readArray, type XdrError, XdrReader, XdrWriter } from './index.ts';

// The edges of every check in the codec: each limit is tested at the value it allows and one past it,
// and each refusal by its message (what a caller reads in a log). Written after mutation testing
// (docs/testing.md) showed these edges untested.

const bytes = (h: string) => Buffer.from(h.replace(/\s/g, ''), 'hex');

function xdrErrorOf(f: () => unknown): XdrError {
  try {
    f();
  } catch (err) {
    if (isXdrError(err)) return err;
    throw err;
  }
  throw new Error('expected an XdrError, nothing was thrown');
}

describe('XDR writer range checks', () => {
  const cases: [string, (w: XdrWriter) => void, boolean, RegExp?][] = [
    ['int at its minimum', (w) => w.int(-0x80000000), true],
    ['int at its maximum', (w) => w.int(0x7fffffff), true],
    ['int below its minimum', (w) => w.int(-0x80000001), false, /^int out of range: -2147483649$/],
    ['int above its maximum', (w) => w.int(0x80000000), false, /^int out of range: 2147483648$/],
    ['int not an integer', (w) => w.int(1.5), false, /^int out of range: 1.5$/],
    ['uint 0', (w) => w.uint(0), true],
    ['uint at its maximum', (w) => w.uint(0xffffffff), true],
    ['uint negative', (w) => w.uint(-1), false, /^unsigned int out of range: -1$/],
    ['uint above its maximum', (w) => w.uint(0x100000000), false, /^unsigned int out of range: 4294967296$/],
    ['uint not an integer', (w) => w.uint(0.5), false, /^unsigned int out of range: 0.5$/],
    ['hyper at its minimum', (w) => w.hyper(-(2n ** 63n)), true],
    ['hyper at its maximum', (w) => w.hyper(2n ** 63n - 1n), true],
    [
      'hyper below its minimum',
      (w) => w.hyper(-(2n ** 63n) - 1n),
      false,
      /^hyper out of range: -9223372036854775809$/,
    ],
    [
      'hyper above its maximum',
      (w) => w.hyper(2n ** 63n),
      false,
      /^hyper out of range: 9223372036854775808$/,
    ],
    ['hyper given a number', (w) => w.hyper(5 as unknown as bigint), false, /^hyper out of range: 5$/],
    ['uhyper 0', (w) => w.uhyper(0n), true],
    ['uhyper at its maximum', (w) => w.uhyper(2n ** 64n - 1n), true],
    ['uhyper negative', (w) => w.uhyper(-1n), false, /^unsigned hyper out of range: -1$/],
    [
      'uhyper above its maximum',
      (w) => w.uhyper(2n ** 64n),
      false,
      /^unsigned hyper out of range: 18446744073709551616$/,
    ],
    [
      'uhyper given a number',
      (w) => w.uhyper(1 as unknown as bigint),
      false,
      /^unsigned hyper out of range: 1$/,
    ],
  ];
  for (const [name, write, accepted, message] of cases) {
    it(`${name}: ${accepted ? 'written' : 'refused'}`, () => {
      const w = new XdrWriter();
      if (accepted) {
        write(w);
        expect(w.length).toBeGreaterThan(0);
      } else {
        expect(xdrErrorOf(() => write(w)).message).toMatch(message ?? /./);
        expect(w.length).toBe(0);
      }
    });
  }

  it('round-trips the extreme hypers', () => {
    const w = new XdrWriter();
    w.hyper(-(2n ** 63n));
    w.hyper(2n ** 63n - 1n);
    w.uhyper(2n ** 64n - 1n);
    const r = new XdrReader(w.finish());
    expect([r.hyper(), r.hyper(), r.uhyper()]).toEqual([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 64n - 1n]);
  });
});

describe('XDR maxima: exactly the maximum passes, one more is refused', () => {
  const long = 'x'.repeat(40); // past the short-string fast path
  const short = 'y'.repeat(12); // on it
  const wide = 'é'.repeat(20); // 40 bytes of UTF-8, 20 characters: the limit counts bytes

  for (const [name, s] of [
    ['a short ASCII string', short],
    ['a long ASCII string', long],
    ['a short non-ASCII string', 'é'.repeat(6)],
    ['a long non-ASCII string', wide],
  ] as const) {
    it(`${name}, written and read`, () => {
      const size = Buffer.byteLength(s);
      const w = new XdrWriter();
      w.string(s, size);
      expect(new XdrReader(w.finish()).string(size)).toBe(s);
      expect(xdrErrorOf(() => new XdrWriter().string(s, size - 1)).message).toBe(
        `string of ${size} bytes exceeds maximum ${size - 1}`,
      );
      expect(xdrErrorOf(() => new XdrReader(w.finish()).string(size - 1)).message).toBe(
        `string of ${size} bytes exceeds maximum ${size - 1}`,
      );
    });
  }

  it('variable opaque', () => {
    const data = Buffer.from([1, 2, 3, 4, 5, 6]);
    const w = new XdrWriter();
    w.opaqueVar(data, 6);
    expect([...new XdrReader(w.finish()).opaqueVar(6)]).toEqual([...data]);
    expect(xdrErrorOf(() => new XdrWriter().opaqueVar(data, 5)).message).toBe(
      'opaque of 6 bytes exceeds maximum 5',
    );
    expect(xdrErrorOf(() => new XdrReader(w.finish()).opaqueVar(5)).message).toBe(
      'opaque of 6 bytes exceeds maximum 5',
    );
  });

  it('array lengths, and an array that cannot fit in what is left', () => {
    const w = new XdrWriter();
    w.arrayLength(3, 3);
    for (const v of [7, 8, 9]) w.int(v);
    const r = new XdrReader(w.finish());
    expect(readArray(r, r.arrayLength(3), (x) => x.int())).toEqual([7, 8, 9]);
    expect(xdrErrorOf(() => new XdrWriter().arrayLength(4, 3)).message).toBe(
      'array of 4 items exceeds maximum 3',
    );
    expect(xdrErrorOf(() => new XdrReader(w.finish()).arrayLength(2)).message).toBe(
      'array of 3 items exceeds maximum 2',
    );
    // Three items declared, 8 bytes left after the length word: each item takes at least 4, but the
    // check is the cheap one libvirt makes too (at least one byte per item).
    expect(new XdrReader(bytes('00000003 00000001 00000002')).arrayLength(10)).toBe(3);
    expect(new XdrReader(bytes('00000004 00000001')).arrayLength(10)).toBe(4);
    const starved = new XdrReader(bytes('00000005 00000001'));
    expect(xdrErrorOf(() => starved.arrayLength(10)).message).toBe('array of 5 items cannot fit in 4 bytes');
  });

  it('fixed arrays and fixed opaque must have exactly their size', () => {
    expect(() => checkFixedLength(4, 4)).not.toThrow();
    expect(xdrErrorOf(() => checkFixedLength(3, 4)).message).toBe('fixed array needs 4 items, got 3');
    expect(xdrErrorOf(() => new XdrWriter().opaqueFixed(Buffer.alloc(3), 4)).message).toBe(
      'fixed opaque needs 4 bytes, got 3',
    );
  });
});

describe('XDR reader positions and refusals', () => {
  it('tracks its offset and what remains', () => {
    const r = new XdrReader(bytes('00000001 00000002 00000003'), 4);
    expect([r.offset, r.remaining]).toEqual([4, 8]);
    r.int();
    expect([r.offset, r.remaining]).toEqual([8, 4]);
  });

  it('names what a truncated body lacked', () => {
    const r = new XdrReader(bytes('00000001 0000'));
    r.int();
    expect(xdrErrorOf(() => r.hyper()).message).toBe('truncated XDR: need 8 bytes at offset 4, have 2');
  });

  it('refuses a bool that is neither 0 nor 1, and counts trailing bytes', () => {
    expect(xdrErrorOf(() => new XdrReader(bytes('00000002')).bool()).message).toBe('bad XDR bool 2');
    const r = new XdrReader(bytes('00000001 00000002 0000'));
    r.int();
    const err = xdrErrorOf(() => r.end());
    expect(err.message).toBe('6 unexpected trailing bytes after XDR body');
    expect(err.name).toBe('XdrError');
    expect(err.code).toBe('XDR');
  });

  it('decodes a lone byte 0x80 as UTF-8 does (a replacement character), also in a short string', () => {
    const expected = Buffer.from([0x80]).toString('utf8');
    expect(new XdrReader(bytes('00000001 80000000')).string(4)).toBe(expected);
    expect(new XdrReader(bytes('00000001 7f000000')).string(4)).toBe('\u007f');
  });
});

describe('XDR writer buffer growth', () => {
  /** Every kind of item, in an order that crosses buffer boundaries at odd places. */
  function writeAll(w: XdrWriter): void {
    w.int(-7);
    w.string('abc', 100);
    w.string('\u0080', 10);
    w.string('a'.repeat(13), 100);
    w.string('b'.repeat(45), 100);
    w.opaqueVar(Buffer.from([1, 2, 3, 4, 5, 6, 7]), 100);
    w.opaqueFixed(Buffer.from([9, 9, 9]), 3);
    w.hyper(-5n);
    w.uhyper(5n);
    w.double(0.25);
    w.float(2);
    w.bool(true);
    w.uint(3);
    for (let i = 0; i < 40; i++) w.string('z'.repeat(i), 100);
  }

  it('writes the same bytes from a tiny buffer as from one that never grows', () => {
    const roomy = new XdrWriter(64 * 1024);
    writeAll(roomy);
    for (const initialSize of [0, 1, 4, 16, 17, 31]) {
      const tiny = new XdrWriter(initialSize);
      writeAll(tiny);
      expect(tiny.finish().equals(roomy.finish()), `initial size ${initialSize}`).toBe(true);
    }
  });

  it('grows for opaque data that overflows the buffer by a few bytes', () => {
    const w = new XdrWriter(8);
    w.uint(1);
    w.opaqueVar(Buffer.from([1, 2, 3, 4, 5]), 8);
    expect(w.finish().toString('hex')).toBe('00000001' + '00000005' + '0102030405000000');
  });

  it('keeps room for a reserved header larger than the initial size, and patches it', () => {
    const w = new XdrWriter(0, 8);
    w.int(1);
    w.patchUint(0, 0xfffffffe);
    w.patchInt(4, -3);
    expect(w.finish().toString('hex')).toBe('fffffffe' + 'fffffffd' + '00000001');
  });

  it('writes U+0080 as two UTF-8 bytes, not as the byte 0x80', () => {
    const w = new XdrWriter();
    w.string('\u0080', 10);
    expect(w.finish().toString('hex')).toBe('00000002' + 'c2800000');
  });
});
