import { LibvirtClientError } from '../errors.ts';
import {
  VIR_NET_MESSAGE_HEADER_MAX,
  VIR_NET_MESSAGE_LEN_MAX,
  VIR_NET_MESSAGE_MAX,
} from '../protocol/net.gen.ts';
import { XdrWriter } from '../xdr/index.ts';

/** The 24-byte header in front of every libvirt RPC message (virNetMessageHeader). */
export interface PacketHeader {
  program: number;
  version: number;
  procedure: number;
  type: number;
  serial: number;
  status: number;
}

export interface Packet {
  header: PacketHeader;
  /** XDR payload after the header. */
  body: Buffer;
}

/** Smallest legal packet: length word + header with an empty body. */
export const MIN_PACKET = VIR_NET_MESSAGE_LEN_MAX + VIR_NET_MESSAGE_HEADER_MAX;
/** libvirt's VIR_NET_MESSAGE_MAX: the length word counts itself. */
export const MAX_PACKET = VIR_NET_MESSAGE_MAX;

/** Encodes one packet: length prefix (patched at the end), header, then `body(w)` if given. */
export function encodePacket(h: PacketHeader, body?: (w: XdrWriter) => void, maxPacket = MAX_PACKET): Buffer {
  const w = new XdrWriter(256, 4);
  w.uint(h.program);
  w.uint(h.version);
  w.int(h.procedure);
  w.int(h.type);
  w.uint(h.serial);
  w.int(h.status);
  body?.(w);
  if (w.length > maxPacket) {
    // What we send is made of the caller's arguments: too much of it is their mistake, not the peer's.
    throw new LibvirtClientError(
      'INVALID_ARGUMENT',
      `outgoing packet of ${w.length} bytes exceeds ${maxPacket}`,
    );
  }
  w.patchUint(0, w.length);
  return w.finish();
}

function decodeHeader(buf: Buffer): PacketHeader {
  return {
    program: buf.readUInt32BE(4),
    version: buf.readUInt32BE(8),
    procedure: buf.readInt32BE(12),
    type: buf.readInt32BE(16),
    serial: buf.readUInt32BE(20),
    status: buf.readInt32BE(24),
  };
}

/**
 * Splits a byte stream into packets. Keeps partial input between chunks; a length outside libvirt's
 * limits is a protocol error (the stream can't be resynchronised, so the caller closes it).
 */
export class PacketDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxPacket = MAX_PACKET) {}

  /** Bytes of an incomplete packet held back; non-zero at end of stream means a truncated packet. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /**
   * Takes the next bytes of the stream and returns the packets they complete. With `transient` the
   * chunk's memory is reused after this call: the returned packets must be consumed before the next
   * push, and the unfinished tail is copied.
   */
  // Stryker disable next-line BooleanLiteral: a needless copy of the tail changes no result
  push(chunk: Buffer, transient = false): Packet[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Packet[] = [];
    while (this.buffered >= 4) {
      const head = this.peekLength();
      if (head < MIN_PACKET || head > this.maxPacket) {
        throw new LibvirtClientError(
          'PROTOCOL',
          `packet length ${head} outside libvirt's limits [${MIN_PACKET}, ${this.maxPacket}]`,
        );
      }
      if (this.buffered < head) break;
      const buf = this.take(head);
      out.push({ header: decodeHeader(buf), body: buf.subarray(MIN_PACKET) });
    }
    // The unfinished tail is at the end: older chunks are already ours, only the transient one is copied.
    const last = this.chunks.length - 1;
    const tail = this.chunks[last];
    if (transient && tail !== undefined) this.chunks[last] = Buffer.from(tail);
    return out;
  }

  private peekLength(): number {
    const first = this.chunks[0];
    // Stryker disable next-line EqualityOperator: at exactly 4 bytes, joining gives the same word
    if (first !== undefined && first.length >= 4) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: joining always gives the same bytes; the first branch spares a copy
    if (first !== undefined && first.length >= n) {
      out = first.subarray(0, n);
      // Stryker disable next-line ConditionalExpression: an empty chunk left in front is skipped by the next join
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const joined = Buffer.concat(this.chunks);
      out = joined.subarray(0, n);
      // Stryker disable next-line ConditionalExpression,EqualityOperator,ArrayDeclaration: an empty remainder and no remainder read alike
      this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}
