import { XdrError } from './xdr-error.ts';

const INT_MIN = -0x80000000;
const INT_MAX = 0x7fffffff;
const UINT_MAX = 0xffffffff;
const HYPER_MIN = -(1n << 63n);
const HYPER_MAX = (1n << 63n) - 1n;
const UHYPER_MAX = (1n << 64n) - 1n;
const ZERO_PAD = Buffer.alloc(4);
const SHORT_STRING = 32;

/**
 * Appends XDR (RFC 4506) items to a growing buffer. Every item is a multiple of 4 bytes, big-endian.
 * One writer per packet: `finish()` hands back a view of the bytes written so far.
 */
export class XdrWriter {
  private buf: Buffer;
  private pos: number;

  constructor(initialSize = 256, reserve = 0) {
    this.buf = Buffer.allocUnsafe(Math.max(initialSize, reserve + 16));
    // `reserve` leaves room at the front for a header written later (framing uses it).
    this.pos = reserve;
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    // Stryker disable next-line EqualityOperator: growing when exactly full is only one copy early
    if (this.pos + n <= this.buf.length) return;
    // Stryker disable next-line ArithmeticOperator: any start size works, the loop below doubles until it fits
    let size = this.buf.length * 2;
    // Stryker disable next-line EqualityOperator: one doubling more or less, both fit
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int(v: number): void {
    if (!Number.isInteger(v) || v < INT_MIN || v > INT_MAX) throw new XdrError(`int out of range: ${v}`);
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  uint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > UINT_MAX) throw new XdrError(`unsigned int out of range: ${v}`);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  hyper(v: bigint): void {
    if (typeof v !== 'bigint' || v < HYPER_MIN || v > HYPER_MAX)
      throw new XdrError(`hyper out of range: ${v}`);
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  uhyper(v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v > UHYPER_MAX) {
      throw new XdrError(`unsigned hyper out of range: ${v}`);
    }
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
  }

  float(v: number): void {
    this.ensure(4);
    this.buf.writeFloatBE(v, this.pos);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  bool(v: boolean): void {
    this.int(v ? 1 : 0);
  }

  /** Fixed-length opaque data: exactly `len` bytes, padded to a multiple of 4. */
  opaqueFixed(v: Uint8Array, len: number): void {
    if (v.length !== len) throw new XdrError(`fixed opaque needs ${len} bytes, got ${v.length}`);
    this.raw(v);
  }

  /** Variable-length opaque data: length word, bytes, padding. */
  opaqueVar(v: Uint8Array, max: number): void {
    if (v.length > max) throw new XdrError(`opaque of ${v.length} bytes exceeds maximum ${max}`);
    this.uint(v.length);
    this.raw(v);
  }

  string(v: string, max: number): void {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: both paths write any string alike; the split is speed only
    if (v.length <= SHORT_STRING && this.shortAscii(v, max)) return;
    // Stryker disable next-line StringLiteral: utf8 is Buffer's default encoding
    const len = Buffer.byteLength(v, 'utf8');
    if (len > max) throw new XdrError(`string of ${len} bytes exceeds maximum ${max}`);
    this.uint(len);
    this.ensure(len + 3);
    // Stryker disable next-line StringLiteral: utf8 is Buffer's default encoding
    this.buf.write(v, this.pos, len, 'utf8');
    this.pos += len;
    this.pad(len);
  }

  /** Writes a short pure-ASCII string byte by byte (cheaper than Buffer.write); false if not ASCII. */
  // Stryker disable next-line BlockStatement: returning nothing sends every string down the general path, which writes the same bytes
  private shortAscii(v: string, max: number): boolean {
    const len = v.length;
    // Stryker disable next-line EqualityOperator,ConditionalExpression: charCodeAt(len) is NaN, never >= 0x80; refusing every string only takes the general path
    for (let i = 0; i < len; i++) if (v.charCodeAt(i) >= 0x80) return false;
    if (len > max) throw new XdrError(`string of ${len} bytes exceeds maximum ${max}`);
    this.ensure(len + 7);
    const b = this.buf;
    b.writeUInt32BE(len, this.pos);
    let p = this.pos + 4;
    for (let i = 0; i < len; i++) b[p++] = v.charCodeAt(i);
    for (let k = len; (k & 3) !== 0; k++) b[p++] = 0;
    this.pos = p;
    return true;
  }

  /** Length word of a variable-length array, checked against its maximum. */
  arrayLength(len: number, max: number): void {
    if (len > max) throw new XdrError(`array of ${len} items exceeds maximum ${max}`);
    this.uint(len);
  }

  private raw(v: Uint8Array): void {
    this.ensure(v.length + 3);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    this.pad(v.length);
  }

  private pad(len: number): void {
    const rem = len & 3;
    if (rem === 0) return;
    // Stryker disable next-line ArithmeticOperator: copying more zeros than needed writes past pos, which the next item overwrites
    ZERO_PAD.copy(this.buf, this.pos, 0, 4 - rem);
    this.pos += 4 - rem;
  }

  /** Writes a big-endian uint at an absolute offset (used to patch the length prefix). */
  patchUint(offset: number, v: number): void {
    this.buf.writeUInt32BE(v, offset);
  }

  patchInt(offset: number, v: number): void {
    this.buf.writeInt32BE(v, offset);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
