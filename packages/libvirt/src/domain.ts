import { LibvirtClientError } from './errors.ts';
import type { RemoteNonnullDomain } from './protocol/remote-types.gen.ts';

/** A domain as libvirt names it on the wire: name, UUID and id (-1 when not running). */
export interface Domain {
  name: string;
  /** Canonical lowercase 8-4-4-4-12 form. */
  uuid: string;
  id: number;
}

/** Hex digit values by char code; -1 for anything else. */
const HEX_VALUE = Int8Array.from({ length: 128 }, (_, c) => {
  const ch = String.fromCharCode(c);
  return /[0-9a-fA-F]/.test(ch) ? Number.parseInt(ch, 16) : -1;
});
const HYPHEN = 0x2d;

/**
 * A UUID in any case spelling, with or without hyphens, as its 16 bytes; anything else is
 * INVALID_ARGUMENT. A plain loop: every call on a domain converts one.
 */
export function uuidToBytes(uuid: string): Buffer {
  const out = Buffer.alloc(16);
  let digits = 0;
  for (let i = 0; i < uuid.length; i++) {
    const c = uuid.charCodeAt(i);
    if (c === HYPHEN) continue;
    const v = HEX_VALUE[c] ?? -1;
    if (v < 0 || digits === 32) throw notUuid(uuid);
    out[digits >> 1] = (out[digits >> 1] ?? 0) | (digits & 1 ? v : v << 4);
    digits++;
  }
  if (digits !== 32) throw notUuid(uuid);
  return out;
}

function notUuid(uuid: string): LibvirtClientError {
  return new LibvirtClientError('INVALID_ARGUMENT', `not a UUID: ${JSON.stringify(uuid)}`);
}

export function uuidFromBytes(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function fromRemoteDomain(d: RemoteNonnullDomain): Domain {
  return { name: d.name, uuid: uuidFromBytes(d.uuid), id: d.id };
}

export function toRemoteDomain(d: Domain): RemoteNonnullDomain {
  return { name: d.name, uuid: uuidToBytes(d.uuid), id: d.id };
}
