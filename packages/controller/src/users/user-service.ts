import type { AuthService } from '../auth/auth-service.ts';
import type { Caller, SignedInCaller } from '../auth/caller.ts';
import type { Principal, Role } from '../auth/principal.ts';
import type { Clock } from '../clock.ts';
import type { Sql, Tx } from '../database/sql.ts';
import { sameId } from '../ids.ts';
import { ServiceError } from '../service-error.ts';
import { FIRST_ADMIN_USERNAME, removeInitialPasswordFile } from './ensure-admin-user.ts';
import {
  deleteUser,
  disableUser,
  enableUser,
  findCredentials,
  findUser,
  insertUser,
  listUsers,
  lockUnlessLastAdmin,
  nextTokenGeneration,
  setPasswordHash,
  setRole,
} from './user-queries.ts';
import type { UserView } from './user-schema.ts';

/** Every user read and change the API offers; the routes only validate, call one method and answer. */
export interface UserService {
  list(): Promise<UserView[]>;
  /** Admins read anyone; others only themselves. Throws `forbidden` or `not_found`. */
  get(caller: SignedInCaller, id: string): Promise<UserView>;
  /**
   * Changes a user's role (admins only, by the route). Ends the user's sessions and access tokens
   * when the role changes. Throws `not_found`, or `conflict` when it would demote the last enabled admin.
   */
  setRole(caller: SignedInCaller, id: string, role: Role): Promise<UserView>;
  /** Throws ServiceError `conflict` (input `username`) when the username is taken. */
  create(caller: Caller, input: { username: string; password: string; role: Role }): Promise<UserView>;
  /**
   * Admins set anyone's password; others only their own, with `currentPassword` (checked under the
   * login throttle). Ends every session of that user. Throws ServiceError `forbidden`, `not_found`,
   * `invalid_argument` (input `current_password`) or `throttled`.
   */
  setPassword(
    caller: SignedInCaller,
    id: string,
    input: { password: string; currentPassword?: string },
  ): Promise<void>;
  /** Disabling ends the user's sessions. Throws `not_found`, or `conflict` for yourself or the last enabled admin. */
  disable(caller: SignedInCaller, id: string): Promise<UserView>;
  /** Throws `not_found`. */
  enable(caller: SignedInCaller, id: string): Promise<UserView>;
  /** Deletes the user with their sessions. Throws `not_found`, or `conflict` for yourself or the last enabled admin. */
  delete(caller: SignedInCaller, id: string): Promise<void>;
}

export interface UserServiceDeps {
  sql: Sql;
  clock: Clock;
  auth: Pick<AuthService, 'hashPassword' | 'confirmPassword' | 'revokeSessions' | 'userChanged'>;
  /** The data folder, where a generated first admin password is kept until the admin changes it. */
  dataDir?: string;
}

const notFound = () => new ServiceError('not_found', 'no such user');

/** Admins set anyone's password; other users only their own. Throws ServiceError `forbidden`. */
export function checkMaySetPassword(principal: Principal, id: string): void {
  if (principal.role !== 'admin' && !sameId(id, principal.userId)) {
    throw new ServiceError('forbidden', 'only admins may set another user’s password');
  }
}

export function createUserService({ sql, clock, auth, dataDir }: UserServiceDeps): UserService {
  /**
   * Every change to an existing user goes through here, so none can skip the side effects: the write
   * and, when `endSessions` names a reason, the revocation of the user's refresh tokens commit
   * together; then this replica forgets what it cached about the user, so the next request with
   * their access token sees the change (other replicas within UserStatusCache's lifetime).
   */
  async function changeUser<T>(
    id: string,
    endSessions: string | null | ((result: T) => string | null),
    write: (tx: Tx, now: Date) => Promise<T>,
  ): Promise<T> {
    const now = clock.now();
    try {
      return (await sql.begin(async (tx) => {
        const result = await write(tx, now);
        const reason = typeof endSessions === 'function' ? endSessions(result) : endSessions;
        if (reason !== null) {
          // Refresh tokens (sessions) and access tokens both end: nothing issued before survives.
          await auth.revokeSessions(id, reason, tx);
          await nextTokenGeneration(tx, id);
        }
        return result;
      })) as T;
    } finally {
      auth.userChanged(id);
    }
  }

  /** Disable and delete: never yourself, never the last enabled admin. */
  async function guardedChange<T>(
    caller: SignedInCaller,
    id: string,
    change: 'disable' | 'delete',
    endSessions: string | null,
    write: (tx: Tx, now: Date) => Promise<T>,
  ): Promise<T> {
    if (sameId(id, caller.principal.userId)) {
      throw new ServiceError('conflict', `you cannot ${change} yourself`);
    }
    return changeUser(id, endSessions, async (tx, now) => {
      const guard = await lockUnlessLastAdmin(tx, id);
      if (guard === 'not_found') throw notFound();
      if (guard === 'last_admin')
        throw new ServiceError('conflict', `cannot ${change} the last enabled admin`);
      return write(tx, now);
    });
  }

  return {
    list: () => listUsers(sql),

    async get(caller, id) {
      if (caller.principal.role !== 'admin' && !sameId(id, caller.principal.userId)) {
        throw new ServiceError('forbidden', 'only admins may read other users');
      }
      const user = await findUser(sql, id);
      if (user === null) throw notFound();
      return user;
    },

    async setRole(caller, id, role) {
      caller.audit.target = `user:${id}`;
      const { user } = await changeUser<{ user: UserView; changed: boolean }>(
        id,
        (outcome) => (outcome.changed ? 'role_changed' : null),
        async (tx, now) => {
          const guard = await lockUnlessLastAdmin(tx, id);
          if (guard === 'not_found') throw notFound();
          const current = await findUser(tx, id);
          if (current === null) throw notFound();
          caller.audit.detail = { username: current.username, role, previous_role: current.role };
          // The same role again changes nothing, and ends no session.
          if (current.role === role) return { user: current, changed: false };
          if (guard === 'last_admin')
            throw new ServiceError('conflict', 'cannot demote the last enabled admin');
          const updated = await setRole(tx, id, role, now);
          if (updated === null) throw notFound();
          return { user: updated, changed: true };
        },
      );
      return user;
    },

    async create(caller, { username, password, role }) {
      caller.audit.target = `username:${username}`;
      caller.audit.detail = { username, role };
      const user = await insertUser(sql, {
        username,
        passwordHash: await auth.hashPassword(password),
        role,
        now: clock.now(),
      });
      if (user === null) {
        throw new ServiceError('conflict', `username "${username}" is taken`, {
          inputs: [{ input: 'username', message: 'is taken' }],
        });
      }
      caller.audit.target = `user:${user.id}`;
      return user;
    },

    async setPassword(caller, id, { password, currentPassword }) {
      caller.audit.target = `user:${id}`;
      checkMaySetPassword(caller.principal, id);
      const isAdmin = caller.principal.role === 'admin';
      const found = await findCredentials(sql, { id });
      if (found === null) throw notFound();
      caller.audit.detail = { username: found.user.username, field: 'password' };
      if (!isAdmin) {
        if (currentPassword === undefined) {
          throw new ServiceError(
            'invalid_argument',
            'current_password is required to change your own password',
            {
              inputs: [{ input: 'current_password', message: 'is required' }],
            },
          );
        }
        const confirmed = await auth.confirmPassword({
          username: found.user.username,
          passwordHash: found.passwordHash,
          password: currentPassword,
          clientAddress: caller.clientAddress,
        });
        if (!confirmed) throw new ServiceError('forbidden', 'current_password is wrong');
      }
      const passwordHash = await auth.hashPassword(password);
      await changeUser(id, 'password_changed', async (tx, now) => {
        if ((await setPasswordHash(tx, id, passwordHash, now)) === null) throw notFound();
      });
      // The generated first password is no longer the admin's: its copy in the data folder goes.
      if (dataDir !== undefined && found.user.username === FIRST_ADMIN_USERNAME)
        removeInitialPasswordFile(dataDir);
    },

    async disable(caller, id) {
      caller.audit.target = `user:${id}`;
      const user = await guardedChange(caller, id, 'disable', 'disabled', (tx, now) =>
        disableUser(tx, id, now),
      );
      if (user === null) throw notFound();
      caller.audit.detail = { username: user.username };
      return user;
    },

    async enable(caller, id) {
      caller.audit.target = `user:${id}`;
      const user = await changeUser(id, null, (tx, now) => enableUser(tx, id, now));
      if (user === null) throw notFound();
      caller.audit.detail = { username: user.username };
      return user;
    },

    async delete(caller, id) {
      caller.audit.target = `user:${id}`;
      // No sessions to revoke: the user's refresh tokens are deleted with them.
      await guardedChange(caller, id, 'delete', null, async (tx) => {
        const user = await findUser(tx, id);
        if (user !== null) caller.audit.detail = { username: user.username, role: user.role };
        return deleteUser(tx, id);
      });
    },
  };
}
