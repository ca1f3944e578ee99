import { isDeepStrictEqual } from 'node:util';

/**
 * True when two records (a Vm, a HostInfo) hold the same values, nested lists (a Vm's disks) included.
 * Compares every key of either, so a field added to the wire type later is compared without anyone
 * remembering to add it here.
 */
export function sameRecord<T extends object>(a: T | undefined, b: T): boolean {
  return a !== undefined && isDeepStrictEqual(a, b);
}
