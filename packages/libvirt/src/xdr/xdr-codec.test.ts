import { describe, expect, it } from 'vitest';
import { isXdrError, XdrReader, XdrWriter } from './index.ts';

const hex = (b: Buffer) => b.toString('hex');
const bytes = (h: string) => Buffer.from(h.replace(/\s/g, ''), 'hex');

function write(f: (w: XdrWriter) => void): string {
  const w = new XdrWriter(4);
  f(w);
  return hex(w.finish());
}

function expectXdrError(f: () => unknown): void {
  let caught: unknown = null;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(isXdrError(caught)).toBe(true);
}

describe('XDR primitives against RFC 4506 byte vectors', () => {
  const cases: [string, (w: XdrWriter) => void, string, (r: XdrReader) => unknown, unknown][] = [
    ['int -1', (w) => w.int(-1), 'ffffffff', (r) => r.int(), -1],
    ['int max', (w) => w.int(0x7fffffff), '7fffffff', (r) => r.int(), 0x7fffffff],
    ['uint', (w) => w.uint(0xdeadbeef), 'deadbeef', (r) => r.uint(), 0xdeadbeef],
    ['hyper -2', (w) => w.hyper(-2n), 'fffffffffffffffe', (r) => r.hyper(), -2n],
    ['uhyper max', (w) => w.uhyper(2n ** 64n - 1n), 'ffffffffffffffff', (r) => r.uhyper(), 2n ** 64n - 1n],
    ['double 1.5', (w) => w.double(1.5), '3ff8000000000000', (r) => r.double(), 1.5],
    ['float -2', (w) => w.float(-2), 'c0000000', (r) => r.float(), -2],
    ['bool true', (w) => w.bool(true), '00000001', (r) => r.bool(), true],
    ['bool false', (w) => w.bool(false), '00000000', (r) => r.bool(), false],
    ['string abc', (w) => w.string('abc', 10), '00000003 61626300', (r) => r.string(10), 'abc'],
    ['string abcd (no pad)', (w) => w.string('abcd', 10), '00000004 61626364', (r) => r.string(10), 'abcd'],
    ['empty string', (w) => w.string('', 10), '00000000', (r) => r.string(10), ''],
    ['utf-8 string', (w) => w.string('é', 10), '00000002 c3a90000', (r) => r.string(10), 'é'],
  ];
  for (const [name, enc, expected, dec, value] of cases) {
    it(name, () => {
      expect(write(enc)).toBe(expected.replace(/\s/g, ''));
      const r = new XdrReader(bytes(expected));
      expect(dec(r)).toEqual(value);
      r.end();
    });
  }

  it('variable opaque carries a length and pads to 4 bytes', () => {
    expect(write((w) => w.opaqueVar(Buffer.from([1, 2, 3, 4, 5]), 16))).toBe('00000005' + '0102030405000000');
    const r = new XdrReader(bytes('00000005 0102030405000000'));
    expect([...r.opaqueVar(16)]).toEqual([1, 2, 3, 4, 5]);
    r.end();
  });

  it('variable opaque whose length is a multiple of 4 has no padding, and what follows decodes', () => {
    for (const len of [0, 4, 8]) {
      const data = Buffer.from(Array.from({ length: len }, (_, i) => i + 1));
      const encoded = write((w) => {
        w.opaqueVar(data, 16);
        w.int(-2);
      });
      expect(encoded.length / 2).toBe(4 + len + 4);
      const r = new XdrReader(bytes(encoded));
      expect([...r.opaqueVar(16)]).toEqual([...data]);
      expect(r.int()).toBe(-2);
      r.end();
    }
  });

  it('fixed opaque of a multiple of 4 bytes: no padding either', () => {
    expect(write((w) => w.opaqueFixed(Buffer.from([1, 2, 3, 4]), 4))).toBe('01020304');
    const r = new XdrReader(bytes('01020304 ffffffff'));
    expect([...r.opaqueFixed(4)]).toEqual([1, 2, 3, 4]);
    expect(r.int()).toBe(-1);
    r.end();
  });

  it('decoded opaque data is a copy, not a view of the (reusable) input', () => {
    const input = bytes('00000002 aabb0000');
    const out = new XdrReader(input).opaqueVar(8);
    input.fill(0);
    expect([...out]).toEqual([0xaa, 0xbb]);
  });

  it('fixed opaque has no length word', () => {
    expect(write((w) => w.opaqueFixed(Buffer.from([0xaa, 0xbb, 0xcc]), 3))).toBe('aabbcc00');
    expect([...new XdrReader(bytes('aabbcc00')).opaqueFixed(3)]).toEqual([0xaa, 0xbb, 0xcc]);
  });

  it('grows its buffer past the initial size', () => {
    const w = new XdrWriter(4);
    for (let i = 0; i < 1000; i++) w.uint(i);
    const r = new XdrReader(w.finish());
    for (let i = 0; i < 1000; i++) expect(r.uint()).toBe(i);
    r.end();
  });
});

describe('XDR refuses what does not fit', () => {
  it('rejects out-of-range numbers on encode', () => {
    expectXdrError(() => new XdrWriter().int(2 ** 31));
    expectXdrError(() => new XdrWriter().uint(-1));
    expectXdrError(() => new XdrWriter().uint(1.5));
    expectXdrError(() => new XdrWriter().hyper(2n ** 63n));
    expectXdrError(() => new XdrWriter().uhyper(-1n));
  });

  it('enforces declared maxima both ways', () => {
    expectXdrError(() => new XdrWriter().string('abcdef', 5));
    expectXdrError(() => new XdrWriter().opaqueVar(Buffer.alloc(9), 8));
    expectXdrError(() => new XdrWriter().arrayLength(3, 2));
    expectXdrError(() => new XdrReader(bytes('00000006 6162636465660000')).string(5));
    expectXdrError(() => new XdrReader(bytes('00000009')).arrayLength(8));
  });

  it('rejects truncated input, bad bools, impossible array lengths and trailing bytes', () => {
    expectXdrError(() => new XdrReader(bytes('000000')).int());
    expectXdrError(() => new XdrReader(bytes('00000004 6162')).string(10));
    expectXdrError(() => new XdrReader(bytes('00000002')).bool());
    expectXdrError(() => new XdrReader(bytes('00100000 00000000')).arrayLength(0xffffffff));
    const r = new XdrReader(bytes('00000001 00000002'));
    r.int();
    expectXdrError(() => r.end());
  });

  it('fixed opaque needs exactly its size', () => {
    expectXdrError(() => new XdrWriter().opaqueFixed(Buffer.alloc(15), 16));
  });
});
