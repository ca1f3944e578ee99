import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hashSecret } from '../join-tokens/join-token-queries.ts';

// A host's credential: `<host id>.<256 random bits, base64url>`. The id part finds the host's row; the
// whole credential's SHA-256 is compared with the stored one in constant time. Only the hash is stored.

export interface IssuedCredential {
  credential: string;
  hash: string;
}

export function issueCredential(hostId: string): IssuedCredential {
  const credential = `${hostId}.${randomBytes(32).toString('base64url')}`;
  return { credential, hash: hashSecret(credential) };
}

const SHAPE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/i;

/** The host id a credential names, and its hash; undefined when it is not shaped like one. */
export function parseCredential(credential: string): { hostId: string; hash: string } | undefined {
  const match = SHAPE.exec(credential);
  if (match?.[1] === undefined) return undefined;
  return { hostId: match[1].toLowerCase(), hash: hashSecret(credential) };
}

/** Two SHA-256 hex digests compared in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
