export { checkFixedLength, readArray } from './xdr-arrays.ts';
export { isXdrError, XdrError } from './xdr-error.ts';
export { XdrReader } from './xdr-reader.ts';
export { XdrWriter } from './xdr-writer.ts';
