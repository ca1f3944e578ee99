import { XdrError } from './xdr-error.ts';
import type { XdrReader } from './xdr-reader.ts';

/** Decodes `len` items with `item`; generated decoders use it for fixed and variable arrays. */
export function readArray<T>(r: XdrReader, len: number, item: (r: XdrReader) => T): T[] {
  // Stryker disable next-line ArrayDeclaration: presizing is speed only
  const out = new Array<T>(len);
  for (let i = 0; i < len; i++) out[i] = item(r);
  return out;
}

export function checkFixedLength(actual: number, expected: number): void {
  if (actual !== expected) throw new XdrError(`fixed array needs ${expected} items, got ${actual}`);
}
