import { createHash, randomBytes } from 'node:crypto';
import type { Sql, Tx } from '../database/sql.ts';

// join_tokens: only the SHA-256 of each token is kept.

/** 256 random bits, base64url, with a prefix that says what it is when it turns up in a paste. */
export const newJoinToken = (): string => `cjt_${randomBytes(32).toString('base64url')}`;
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export async function insertJoinToken(
  sql: Sql | Tx,
  input: { id: string; tokenHash: string; createdBy: string | null; now: Date; expiresAt: Date },
): Promise<void> {
  await sql`
    insert into join_tokens (id, token_hash, created_by, created_at, expires_at)
    values (${input.id}, ${input.tokenHash}, ${input.createdBy}, ${input.now}, ${input.expiresAt})`;
}

/**
 * Spends a token: one conditional update, so of concurrent redemptions of one token exactly one wins.
 * Null when it is unknown, used or expired.
 */
export async function redeemJoinToken(tx: Tx, tokenHash: string, now: Date): Promise<string | null> {
  const rows = await tx<{ id: string }[]>`
    update join_tokens set used_at = ${now}
    where token_hash = ${tokenHash} and used_at is null and expires_at > ${now}
    returning id`;
  return rows[0]?.id ?? null;
}

export async function recordJoinedHost(tx: Tx, tokenId: string, hostId: string): Promise<void> {
  await tx`update join_tokens set used_by_host_id = ${hostId} where id = ${tokenId}`;
}
