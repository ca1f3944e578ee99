import { randomBytes } from 'node:crypto';

/**
 * A UUIDv7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then random bits, so ids sort by creation
 * time (good B-tree locality; host ids like the seed's `019e0014-...-7057-...`). Node 20 has no
 * built-in generator, and PostgreSQL only gained `uuidv7()` in version 18.
 */
export function uuidv7(now: number | Date = Date.now()): string {
  const ms = typeof now === 'number' ? now : now.getTime();
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f); // version 7
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f); // variant 10
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The creation time a UUIDv7 carries. */
export function uuidv7Time(id: string): Date {
  return new Date(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16));
}

/** Whether two UUIDs name the same thing: compared as values, so the spelling's letter case does not matter. */
export const sameId = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `text` is a UUID, in any letter case. */
export const isUuid = (text: string): boolean => UUID.test(text);
