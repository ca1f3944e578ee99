import { randomUUID } from 'node:crypto';
import type { Role } from '../auth/principal.ts';
import type { Sql } from '../store/sql.ts';

export interface User {
  id: string;
  username: string;
  role: Role;
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserWithHash extends User {
  passwordHash: string;
}

interface UserRow {
  id: string;
  username: string;
  role: Role;
  disabled_at: Date | null;
  created_at: Date;
  updated_at: Date;
  password_hash: string;
}

const toUser = (r: UserRow): UserWithHash => ({
  id: r.id,
  username: r.username,
  role: r.role,
  disabledAt: r.disabled_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  passwordHash: r.password_hash,
});

const withoutHash = ({ passwordHash: _, ...user }: UserWithHash): User => user;

/** Lower-case letter first, then letters, digits, `.`, `_`, `-`; 3 to 32 characters. */
export const USERNAME_PATTERN = /^[a-z][a-z0-9._-]{2,31}$/;

/** Creates a user, or returns null when the username is taken (no error matching on a unique violation). */
export async function createUser(
  sql: Sql,
  input: { username: string; passwordHash: string; role: Role; now: Date },
): Promise<User | null> {
  const rows = await sql<UserRow[]>`
    insert into users (id, username, password_hash, role, created_at, updated_at)
    values (${randomUUID()}, ${input.username}, ${input.passwordHash}, ${input.role}, ${input.now}, ${input.now})
    on conflict (username) do nothing
    returning *`;
  const row = rows[0];
  return row === undefined ? null : withoutHash(toUser(row));
}

export async function findUserByUsername(sql: Sql, username: string): Promise<UserWithHash | null> {
  const rows = await sql<UserRow[]>`select * from users where username = ${username}`;
  return rows[0] === undefined ? null : toUser(rows[0]);
}

export async function findUserById(sql: Sql, id: string): Promise<UserWithHash | null> {
  const rows = await sql<UserRow[]>`select * from users where id = ${id}`;
  return rows[0] === undefined ? null : toUser(rows[0]);
}

export async function listUsers(sql: Sql): Promise<User[]> {
  const rows = await sql<UserRow[]>`select * from users order by username`;
  return rows.map((r) => withoutHash(toUser(r)));
}

export async function setPasswordHash(
  sql: Sql,
  id: string,
  passwordHash: string,
  now: Date,
): Promise<boolean> {
  const rows =
    await sql`update users set password_hash = ${passwordHash}, updated_at = ${now} where id = ${id} returning id`;
  return rows.length === 1;
}

export async function countUsers(sql: Sql): Promise<number> {
  const rows = await sql<{ n: number }[]>`select count(*)::int as n from users`;
  return rows[0]?.n ?? 0;
}

export type AdminGuardedChange = 'disable' | 'delete';
export type GuardedChangeResult = 'done' | 'not_found' | 'last_admin';

/**
 * Disables or deletes a user unless it is the last enabled admin. The enabled admins' rows are
 * locked first, so two admins disabling each other at the same moment cannot both succeed.
 */
export async function changeUnlessLastAdmin(
  sql: Sql,
  id: string,
  change: AdminGuardedChange,
  now: Date,
): Promise<GuardedChangeResult> {
  return sql.begin(async (tx) => {
    const admins = await tx<{ id: string }[]>`
      select id from users where role = 'admin' and disabled_at is null order by id for update`;
    const target = await tx<{ id: string }[]>`select id from users where id = ${id} for update`;
    if (target.length === 0) return 'not_found';
    if (admins.length === 1 && admins[0]?.id === id) return 'last_admin';
    if (change === 'delete') {
      await tx`delete from users where id = ${id}`;
    } else {
      await tx`update users set disabled_at = coalesce(disabled_at, ${now}), updated_at = ${now} where id = ${id}`;
    }
    return 'done';
  }) as Promise<GuardedChangeResult>;
}

export async function enableUser(sql: Sql, id: string, now: Date): Promise<boolean> {
  const rows =
    await sql`update users set disabled_at = null, updated_at = ${now} where id = ${id} returning id`;
  return rows.length === 1;
}
