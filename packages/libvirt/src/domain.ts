import { LibvirtClientError } from './errors.ts';
import type { RemoteNonnullDomain } from './protocol/remote-types.gen.ts';

/** A domain as libvirt names it on the wire: name, UUID and id (-1 when not running). */
export interface Domain {
  name: string;
  /** Canonical lowercase 8-4-4-4-12 form. */
  uuid: string;
  id: number;
}

/** A UUID in any case spelling, with or without hyphens; anything else is INVALID_ARGUMENT. */
export function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) {
    throw new LibvirtClientError('INVALID_ARGUMENT', `not a UUID: ${JSON.stringify(uuid)}`);
  }
  return Buffer.from(hex, 'hex');
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
