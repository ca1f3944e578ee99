import { randomUUID } from 'node:crypto';
import type { Role } from '../auth/principal.ts';
import type { Sql, Tx } from '../database/sql.ts';
import type { UserView } from './user-schema.ts';

// The users table. Queries return users as the API shows them (UserView); the password hash only
// comes out of findCredentials, for the few callers that check a password.

interface UserRow {
  id: string;
  username: string;
  role: Role;
  disabled_at: Date | null;
  created_at: Date;
  updated_at: Date;
  token_generation: number;
}

const toView = (r: UserRow): UserView => ({
  id: r.id,
  username: r.username,
  role: r.role,
  disabled: r.disabled_at !== null,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

/** A user and their password hash: only for checking a password, never for an answer. */
export interface UserCredentials {
  user: UserView;
  passwordHash: string;
  /** The generation new access tokens are issued in (see 0005_token_generation.sql). */
  tokenGeneration: number;
}

/** What a request's bearer check needs of its user. */
export interface UserStatus {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  /** Access tokens of an earlier generation are refused. */
  tokenGeneration: number;
}

export async function findUserStatus(sql: Sql | Tx, id: string): Promise<UserStatus | null> {
  const rows = await sql<UserRow[]>`select * from users where id = ${id}`;
  const r = rows[0];
  return r === undefined
    ? null
    : {
        id: r.id,
        username: r.username,
        role: r.role,
        disabled: r.disabled_at !== null,
        tokenGeneration: r.token_generation,
      };
}

/** Ends every access token issued so far: the next generation starts. */
export async function nextTokenGeneration(sql: Sql | Tx, id: string): Promise<void> {
  await sql`update users set token_generation = token_generation + 1 where id = ${id}`;
}

/** Sets a user's role; null when there is no such user. */
export async function setRole(sql: Sql | Tx, id: string, role: Role, now: Date): Promise<UserView | null> {
  const rows = await sql<UserRow[]>`
    update users set role = ${role}, updated_at = ${now} where id = ${id} returning *`;
  return rows[0] === undefined ? null : toView(rows[0]);
}

/** Creates a user, or returns null when the username is taken (no error matching on a unique violation). */
export async function insertUser(
  sql: Sql | Tx,
  input: { username: string; passwordHash: string; role: Role; now: Date },
): Promise<UserView | null> {
  const rows = await sql<UserRow[]>`
    insert into users (id, username, password_hash, role, created_at, updated_at)
    values (${randomUUID()}, ${input.username}, ${input.passwordHash}, ${input.role}, ${input.now}, ${input.now})
    on conflict (username) do nothing
    returning *`;
  return rows[0] === undefined ? null : toView(rows[0]);
}

export async function findUser(sql: Sql | Tx, id: string): Promise<UserView | null> {
  const rows = await sql<UserRow[]>`select * from users where id = ${id}`;
  return rows[0] === undefined ? null : toView(rows[0]);
}

export async function findCredentials(
  sql: Sql | Tx,
  by: { username: string } | { id: string },
): Promise<UserCredentials | null> {
  const rows = await sql<(UserRow & { password_hash: string })[]>`
    select * from users
    where ${'username' in by ? sql`username = ${by.username}` : sql`id = ${by.id}`}`;
  const row = rows[0];
  return row === undefined
    ? null
    : { user: toView(row), passwordHash: row.password_hash, tokenGeneration: row.token_generation };
}

export async function listUsers(sql: Sql | Tx): Promise<UserView[]> {
  const rows = await sql<UserRow[]>`select * from users order by username`;
  return rows.map(toView);
}

export async function countUsers(sql: Sql | Tx): Promise<number> {
  const rows = await sql<{ n: number }[]>`select count(*)::int as n from users`;
  return rows[0]?.n ?? 0;
}

/** Sets a user's password hash; null when there is no such user. */
export async function setPasswordHash(
  sql: Sql | Tx,
  id: string,
  passwordHash: string,
  now: Date,
): Promise<UserView | null> {
  const rows = await sql<UserRow[]>`
    update users set password_hash = ${passwordHash}, updated_at = ${now} where id = ${id} returning *`;
  return rows[0] === undefined ? null : toView(rows[0]);
}

/** Enables a user (a no-op on an enabled one); null when there is no such user. */
export async function enableUser(sql: Sql | Tx, id: string, now: Date): Promise<UserView | null> {
  const rows = await sql<UserRow[]>`
    update users set disabled_at = null, updated_at = ${now} where id = ${id} returning *`;
  return rows[0] === undefined ? null : toView(rows[0]);
}

/** Disables a user (keeping the first `disabled_at` of one already disabled); null when there is no such user. */
export async function disableUser(sql: Sql | Tx, id: string, now: Date): Promise<UserView | null> {
  const rows = await sql<UserRow[]>`
    update users set disabled_at = coalesce(disabled_at, ${now}), updated_at = ${now} where id = ${id}
    returning *`;
  return rows[0] === undefined ? null : toView(rows[0]);
}

/** Deletes a user; their refresh tokens go with them (the foreign keys cascade). */
export async function deleteUser(sql: Sql | Tx, id: string): Promise<boolean> {
  const rows = await sql`delete from users where id = ${id} returning id`;
  return rows.length === 1;
}

export type LastAdminGuard = 'ok' | 'not_found' | 'last_admin';

/**
 * Before disabling or deleting a user, inside that transaction: locks the enabled admins' rows and the
 * target's (one statement, in id order) and says whether the target exists and is not the last enabled
 * admin. Two admins disabling each other at the same moment cannot both pass: the second waits for the
 * first's lock and then finds one enabled admin left.
 */
export async function lockUnlessLastAdmin(tx: Tx, id: string): Promise<LastAdminGuard> {
  const locked = await tx<{ enabled_admin: boolean; target: boolean }[]>`
    select role = 'admin' and disabled_at is null as enabled_admin, id = ${id} as target
    from users where (role = 'admin' and disabled_at is null) or id = ${id}
    order by id for update`;
  const target = locked.find((r) => r.target);
  if (target === undefined) return 'not_found';
  if (target.enabled_admin && locked.filter((r) => r.enabled_admin).length === 1) return 'last_admin';
  return 'ok';
}

/**
 * The shell operator's way back in: `username` becomes an enabled admin with this password hash,
 * created when missing. Returns the user and whether it was created.
 */
export async function restoreAdmin(
  sql: Sql | Tx,
  input: { username: string; passwordHash: string; now: Date },
): Promise<{ user: UserView; created: boolean }> {
  const rows = await sql<(UserRow & { created: boolean })[]>`
    insert into users (id, username, password_hash, role, created_at, updated_at)
    values (${randomUUID()}, ${input.username}, ${input.passwordHash}, 'admin', ${input.now}, ${input.now})
    on conflict (username) do update set
      password_hash = excluded.password_hash, role = 'admin', disabled_at = null, updated_at = excluded.updated_at,
      token_generation = users.token_generation + 1
    returning *, (xmax = 0) as created`;
  const row = rows[0];
  if (row === undefined) throw new Error('restoreAdmin: the upsert returned no row');
  return { user: toView(row), created: row.created };
}
