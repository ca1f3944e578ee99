import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Sql, Tx } from '../database/sql.ts';
import type { Role } from './principal.ts';

/** 256 random bits, base64url: opaque to clients, unguessable, and never stored in the clear. */
export const newRefreshToken = (): string => randomBytes(32).toString('base64url');
export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Stores a new token; a fresh family when none is given (a login), else the rotating family. */
export async function storeRefreshToken(
  sql: Sql | Tx,
  input: { userId: string; familyId?: string; now: Date; ttlSeconds: number },
): Promise<string> {
  const token = newRefreshToken();
  const expiresAt = new Date(input.now.getTime() + input.ttlSeconds * 1000);
  if (input.familyId === undefined) {
    // Family and first token in one statement: no moment where a family exists without its token.
    await sql`
      with family as (
        insert into refresh_token_families (id, user_id, created_at)
        values (${randomUUID()}, ${input.userId}, ${input.now})
        returning id)
      insert into refresh_tokens (token_hash, family_id, issued_at, expires_at)
      select ${hashRefreshToken(token)}, family.id, ${input.now}, ${expiresAt} from family`;
    return token;
  }
  await sql`
    insert into refresh_tokens (token_hash, family_id, issued_at, expires_at)
    values (${hashRefreshToken(token)}, ${input.familyId}, ${input.now}, ${expiresAt})`;
  return token;
}

export type RotateOutcome =
  | {
      kind: 'rotated';
      token: string;
      user: { id: string; username: string; role: Role; tokenGeneration: number };
    }
  | { kind: 'invalid' }
  | { kind: 'reused'; familyId: string; userId: string };

/**
 * Spends a refresh token and issues its successor in the same family, in one transaction. The
 * spend is a conditional update, so of two concurrent presentations exactly one wins; the other
 * (and any later one) finds the token spent, which is reuse: the family is revoked (RFC 9700 §4.14.2).
 */
export async function rotateRefreshToken(
  sql: Sql,
  token: string,
  now: Date,
  ttlSeconds: number,
): Promise<RotateOutcome> {
  const hash = hashRefreshToken(token);
  return sql.begin(async (tx) => {
    const spent = await tx<{ family_id: string; expires_at: Date }[]>`
      update refresh_tokens set used_at = ${now}
      where token_hash = ${hash} and used_at is null
      returning family_id, expires_at`;
    const row = spent[0];
    if (row === undefined) {
      const known = await tx<{ family_id: string; user_id: string; revoked_at: Date | null }[]>`
        select t.family_id, f.user_id, f.revoked_at from refresh_tokens t
        join refresh_token_families f on f.id = t.family_id
        where t.token_hash = ${hash}`;
      const k = known[0];
      if (k === undefined) return { kind: 'invalid' };
      if (k.revoked_at === null) {
        await tx`update refresh_token_families set revoked_at = ${now}, revoked_reason = 'reuse' where id = ${k.family_id}`;
      }
      return { kind: 'reused', familyId: k.family_id, userId: k.user_id };
    }
    const owner = await tx<{ id: string; username: string; role: Role; tokenGeneration: number }[]>`
      select u.id, u.username, u.role, u.token_generation as "tokenGeneration" from refresh_token_families f
      join users u on u.id = f.user_id
      where f.id = ${row.family_id} and f.revoked_at is null and u.disabled_at is null`;
    const user = owner[0];
    // Expired, revoked family or disabled user: the spend stands (the token is dead either way).
    if (user === undefined || row.expires_at.getTime() <= now.getTime()) return { kind: 'invalid' };
    const next = await storeRefreshToken(tx, {
      userId: user.id,
      familyId: row.family_id,
      now,
      ttlSeconds,
    });
    return { kind: 'rotated', token: next, user };
  }) as Promise<RotateOutcome>;
}

/** Revokes the family of `token` if it belongs to `userId`; true when a live family was revoked. */
export async function revokeFamilyOf(sql: Sql, token: string, userId: string, now: Date): Promise<boolean> {
  const rows = await sql`
    update refresh_token_families f set revoked_at = ${now}, revoked_reason = 'logout'
    from refresh_tokens t
    where t.token_hash = ${hashRefreshToken(token)} and t.family_id = f.id
      and f.user_id = ${userId} and f.revoked_at is null
    returning f.id`;
  return rows.length > 0;
}

/** Revokes every live family of a user (disabled, password changed). */
export async function revokeAllFamilies(
  sql: Sql | Tx,
  userId: string,
  now: Date,
  reason: string,
): Promise<number> {
  const rows = await sql`
    update refresh_token_families set revoked_at = ${now}, revoked_reason = ${reason}
    where user_id = ${userId} and revoked_at is null
    returning id`;
  return rows.length;
}

/**
 * Deletes a user's dead families (revoked, or every token expired) so the tables do not grow with
 * every login. Run at login; live families keep their spent tokens, which reuse detection needs.
 */
export async function pruneDeadFamilies(sql: Sql | Tx, userId: string, now: Date): Promise<void> {
  await sql`
    delete from refresh_token_families f
    where f.user_id = ${userId}
      and (f.revoked_at is not null
           or not exists (select 1 from refresh_tokens t where t.family_id = f.id and t.expires_at > ${now}))`;
}

/**
 * Retention: deletes tokens that expired before `cutoff` (spent or not: long dead, and reuse of an
 * expired token is refused anyway) and families with nothing left that were revoked or created
 * before it. Live families are untouched. How many rows went.
 */
export async function deleteRefreshTokensBefore(sql: Sql | Tx, cutoff: Date): Promise<number> {
  const [tokens] = await sql<{ n: number }[]>`
    with gone as (delete from refresh_tokens where expires_at < ${cutoff} returning 1)
    select count(*)::int as n from gone`;
  const [families] = await sql<{ n: number }[]>`
    with gone as (
      delete from refresh_token_families f
      where (f.revoked_at < ${cutoff} or f.created_at < ${cutoff})
        and not exists (select 1 from refresh_tokens t where t.family_id = f.id and t.expires_at >= ${cutoff})
      returning 1)
    select count(*)::int as n from gone`;
  // Stryker disable next-line OptionalChaining: count(*) always returns its one row
  return (tokens?.n ?? 0) + (families?.n ?? 0);
}
