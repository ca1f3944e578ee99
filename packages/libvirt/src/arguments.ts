import { LibvirtClientError } from './errors.ts';

/**
 * A caller's integer as the bigint a `hyper` field carries. A number that is not a safe integer
 * (1.5, NaN, 2^60 already rounded) is refused as INVALID_ARGUMENT before anything is sent.
 */
export function integerArgument(what: string, v: number | bigint): bigint {
  if (typeof v === 'bigint') return v;
  if (!Number.isSafeInteger(v))
    throw new LibvirtClientError('INVALID_ARGUMENT', `${what}: ${v} is not an integer`);
  return BigInt(v);
}
