import { XdrError } from './xdr-error.ts';

const SHORT_STRING = 32;

/** Reads XDR (RFC 4506) items from a buffer, checking bounds and declared maxima as it goes. */
export class XdrReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    offset = 0,
  ) {
    this.pos = offset;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new XdrError(`truncated XDR: need ${n} bytes at offset ${this.pos}, have ${this.remaining}`);
    }
  }

  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  hyper(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  uhyper(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  float(): number {
    this.need(4);
    const v = this.buf.readFloatBE(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  bool(): boolean {
    const v = this.int();
    if (v !== 0 && v !== 1) throw new XdrError(`bad XDR bool ${v}`);
    return v === 1;
  }

  opaqueFixed(len: number): Buffer {
    return this.bytes(len);
  }

  opaqueVar(max: number): Buffer {
    const len = this.uint();
    if (len > max) throw new XdrError(`opaque of ${len} bytes exceeds maximum ${max}`);
    return this.bytes(len);
  }

  string(max: number): string {
    const len = this.uint();
    if (len > max) throw new XdrError(`string of ${len} bytes exceeds maximum ${max}`);
    const padded = (len + 3) & ~3;
    this.need(padded);
    const s =
      // Stryker disable next-line ConditionalExpression,EqualityOperator: either path decodes any length alike; the split is speed only
      len <= SHORT_STRING ? this.shortString(len) : this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += padded;
    return s;
  }

  /** Short ASCII strings (typed-parameter names) decode faster in JS than through Buffer.toString. */
  private shortString(len: number): string {
    const b = this.buf;
    const start = this.pos;
    let s = '';
    for (let i = start; i < start + len; i++) {
      const c = b[i] as number;
      // Stryker disable next-line ConditionalExpression: decoding every short string as UTF-8 gives the same result, slower
      if (c >= 0x80) return b.toString('utf8', start, start + len);
      s += String.fromCharCode(c);
    }
    return s;
  }

  arrayLength(max: number): number {
    const len = this.uint();
    if (len > max) throw new XdrError(`array of ${len} items exceeds maximum ${max}`);
    // Each item takes at least 4 bytes: a length beyond the packet is a lie, refuse before allocating.
    if (len > this.remaining)
      throw new XdrError(`array of ${len} items cannot fit in ${this.remaining} bytes`);
    return len;
  }

  /** Copies so decoded values never alias the (reused) receive buffer. */
  private bytes(len: number): Buffer {
    const padded = (len + 3) & ~3;
    this.need(padded);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + len));
    this.pos += padded;
    return out;
  }

  /** Asserts the whole body was consumed: trailing bytes mean the two sides disagree on the type. */
  end(): void {
    if (this.pos !== this.buf.length) {
      throw new XdrError(`${this.buf.length - this.pos} unexpected trailing bytes after XDR body`);
    }
  }
}
