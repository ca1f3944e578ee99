import { describe, expect, it } from 'vitest';
import { isInvalidArgument, isProtocolError } from '../errors.ts';
import { encodePacket, MAX_PACKET, MIN_PACKET, PacketDecoder } from './packet.ts';

const header = { program: 0x20008086, version: 1, procedure: 1, type: 0, serial: 5, status: 0 };
const EMPTY_CALL = '0000001c 20008086 00000001 00000001 00000000 00000005 00000000'.replace(/\s/g, '');

function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return null;
}

describe('packet framing', () => {
  it('writes a length word that counts itself, then the 24-byte header', () => {
    expect(encodePacket(header).toString('hex')).toBe(EMPTY_CALL);
    const withBody = encodePacket(header, (w) => w.int(-1));
    expect(withBody.toString('hex')).toBe(`00000020${EMPTY_CALL.slice(8)}ffffffff`);
  });

  it('reassembles a packet delivered one byte at a time', () => {
    const d = new PacketDecoder();
    const buf = encodePacket({ ...header, type: 1, serial: 9 }, (w) => w.uint(42));
    const out = [];
    for (const b of buf) out.push(...d.push(Buffer.from([b])));
    expect(out).toHaveLength(1);
    expect(out[0]?.header).toEqual({ ...header, type: 1, serial: 9 });
    expect(out[0]?.body.toString('hex')).toBe('0000002a');
    expect(d.pendingBytes).toBe(0);
  });

  it('splits several packets arriving in one chunk and keeps a partial tail', () => {
    const d = new PacketDecoder();
    const a = encodePacket({ ...header, serial: 1 });
    const b = encodePacket({ ...header, serial: 2 }, (w) => w.string('x', 10));
    const c = encodePacket({ ...header, serial: 3 });
    const out = d.push(Buffer.concat([a, b, c.subarray(0, 10)]));
    expect(out.map((p) => p.header.serial)).toEqual([1, 2]);
    expect(d.pendingBytes).toBe(10);
    expect(d.push(c.subarray(10)).map((p) => p.header.serial)).toEqual([3]);
  });

  it('a transient chunk (a reused read buffer) may be overwritten once pushed: the tail was copied', () => {
    const d = new PacketDecoder();
    const whole = encodePacket({ ...header, serial: 7 }, (w) => w.string('kept across reads', 64));
    const readBuffer = Buffer.alloc(64);
    whole.copy(readBuffer, 0, 0, 20);
    expect(d.push(readBuffer.subarray(0, 20), true)).toEqual([]);
    readBuffer.fill(0xee);
    whole.copy(readBuffer, 0, 20);
    const [p] = d.push(readBuffer.subarray(0, whole.length - 20), true);
    expect(p?.header.serial).toBe(7);
    expect(p?.body.equals(whole.subarray(MIN_PACKET))).toBe(true);
  });

  it('refuses lengths below a header and above libvirt maximum as protocol errors', () => {
    expect(isProtocolError(caught(() => new PacketDecoder().push(Buffer.from('0000001b', 'hex'))))).toBe(
      true,
    );
    const tooBig = Buffer.alloc(4);
    tooBig.writeUInt32BE(MAX_PACKET + 1);
    expect(isProtocolError(caught(() => new PacketDecoder().push(tooBig)))).toBe(true);
    expect(isProtocolError(caught(() => new PacketDecoder(64).push(Buffer.from('00000041', 'hex'))))).toBe(
      true,
    );
    expect((caught(() => new PacketDecoder(64).push(Buffer.from('00000041', 'hex'))) as Error).message).toBe(
      "packet length 65 outside libvirt's limits [28, 64]",
    );
  });

  it('decodes the same packets however the stream is cut into chunks', () => {
    const packets = [
      encodePacket({ ...header, serial: 1 }),
      encodePacket({ ...header, serial: 2 }, (w) => w.int(-2)),
      encodePacket({ ...header, serial: 3 }, (w) => w.string('three', 16)),
    ];
    const stream = Buffer.concat(packets);
    const decode = (cuts: number[]) => {
      const d = new PacketDecoder();
      const out = [];
      let from = 0;
      for (const to of [...cuts, stream.length]) {
        out.push(...d.push(stream.subarray(from, to)));
        from = to;
      }
      expect(d.pendingBytes, `cut at ${cuts}`).toBe(0);
      return out.map((p) => `${p.header.serial}:${p.body.toString('hex')}`);
    };
    const expected = ['1:', '2:fffffffe', '3:0000000574687265650000' + '00'];
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j += 3)
        expect(decode([i, j]), `cut at ${i}, ${j}`).toEqual(expected);
    }
    for (let size = 1; size <= 8; size++) {
      const cuts = Array.from({ length: Math.floor(stream.length / size) }, (_, k) => (k + 1) * size);
      expect(decode(cuts), `chunks of ${size}`).toEqual(expected);
    }
  });

  it('accepts packets of exactly the smallest and the largest legal length', () => {
    const smallest = new PacketDecoder(64).push(encodePacket(header));
    expect(smallest.map((p) => p.body.length)).toEqual([0]);
    // 64 bytes in all: length word + header (28) + 36 bytes of body.
    const exact = encodePacket(header, (w) => w.opaqueFixed(Buffer.alloc(36, 7), 36), 64);
    expect(exact.length).toBe(64);
    const [p] = new PacketDecoder(64).push(exact);
    expect(p?.body).toEqual(Buffer.alloc(36, 7));
  });

  it("accepts a packet of exactly libvirt's 32 MiB maximum by default", () => {
    const bodyLen = MAX_PACKET - MIN_PACKET;
    const buf = encodePacket(header, (w) => w.opaqueFixed(Buffer.alloc(bodyLen), bodyLen));
    expect(buf.length).toBe(MAX_PACKET);
    const out = new PacketDecoder().push(buf);
    expect(out.map((p) => p.body.length)).toEqual([bodyLen]);
  });

  it("refuses to send a packet over the limit: the caller's argument, nothing is written", () => {
    const err = caught(() => encodePacket(header, (w) => w.opaqueFixed(Buffer.alloc(40), 40), 64));
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toBe('outgoing packet of 68 bytes exceeds 64');
  });
});
