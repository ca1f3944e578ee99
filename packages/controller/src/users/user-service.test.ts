import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import type { SignedInCaller } from '../auth/caller.ts';
import { isServiceError } from '../service-error.ts';
import type { UserService } from './user-service.ts';

type Mutation = Exclude<keyof UserService, 'list' | 'get'>;

interface Target {
  id: string;
  username: string;
  password: string;
}

interface Effect {
  /** Brings the target into the state the mutation starts from (default: enabled, signed in). */
  setup?: (users: UserService, admin: SignedInCaller, target: Target) => Promise<unknown>;
  run: (users: UserService, admin: SignedInCaller, target: Target) => Promise<unknown>;
  /** What the target's access token gets on the very next request, although this replica cached the user. */
  access: 'accepted' | 'refused';
  /** Whether the refresh tokens the target held before still work. */
  sessions: 'ended' | 'kept' | 'ended-by-setup';
}

/**
 * Every method of UserService that changes a user, with what it must do to that user's sessions and to
 * this replica's cached view of them. The type makes a method added to UserService fail to compile
 * until it has a row here, and the first test checks the same at run time.
 */
const EFFECTS: Record<Mutation, Effect | 'creates a user: nothing cached, no sessions yet'> = {
  create: 'creates a user: nothing cached, no sessions yet',
  setPassword: {
    run: (users, admin, t) => users.setPassword(admin, t.id, { password: 'a-brand-new-password' }),
    access: 'refused',
    sessions: 'ended',
  },
  setRole: {
    run: (users, admin, t) => users.setRole(admin, t.id, 'viewer'),
    access: 'refused',
    sessions: 'ended',
  },
  disable: { run: (users, admin, t) => users.disable(admin, t.id), access: 'refused', sessions: 'ended' },
  enable: {
    setup: (users, admin, t) => users.disable(admin, t.id),
    run: (users, admin, t) => users.enable(admin, t.id),
    // Disabling ended the access tokens too: enabling again does not bring them back.
    access: 'refused',
    sessions: 'ended-by-setup',
  },
  delete: { run: (users, admin, t) => users.delete(admin, t.id), access: 'refused', sessions: 'ended' },
};

describe('UserService', () => {
  let t: TestApp;
  let admin: SignedInCaller;
  beforeAll(async () => {
    // A minute-long user cache: within a test only an invalidation can make a replica see a change.
    t = await createTestApp({ authOptions: { userCacheMs: 60_000 } });
    const [row] = await t.sql<{ id: string }[]>`select id from users where username = 'admin'`;
    admin = {
      principal: { userId: row?.id ?? '', username: 'admin', role: 'admin', tokenId: 'test' },
      clientAddress: '127.0.0.1',
      audit: {},
    };
  });
  afterAll(async () => {
    await t?.close();
  });

  const caller = (): SignedInCaller => ({ ...admin, audit: {} });
  const anonymous = () => ({ clientAddress: '127.0.0.1', audit: {} });

  it('has a row in the side-effect table for every method that changes a user', () => {
    const reads = new Set(['list', 'get']);
    const methods = Object.keys(t.services.users).filter((m) => !reads.has(m));
    expect(methods.sort()).toEqual(Object.keys(EFFECTS).sort());
  });

  const rows = Object.entries(EFFECTS).filter((row): row is [Mutation, Effect] => typeof row[1] !== 'string');
  it.each(rows)('%s ends sessions and refreshes the cached user as required', async (_name, effect) => {
    const { users, auth } = t.services;
    const password = `password-${randomBytes(6).toString('hex')}`;
    const created = await users.create(caller(), {
      username: `u${randomBytes(5).toString('hex')}`,
      password,
      role: 'operator',
    });
    const target = { id: created.id, username: created.username, password };
    const { tokens } = await auth.login(anonymous(), { username: target.username, password });
    await effect.setup?.(users, caller(), target);
    // This replica now holds the user in its cache, as it stands before the change.
    await auth.authenticate(tokens.token).catch(() => undefined);

    const note = caller();
    await effect.run(users, note, target);

    expect(note.audit.target).toBe(`user:${target.id}`);
    const access = await auth.authenticate(tokens.token).then(
      () => 'accepted',
      (err: unknown) => (isServiceError(err, 'invalid_token') ? 'refused' : err),
    );
    expect(access).toBe(effect.access);
    const refresh = await auth.refresh(anonymous(), tokens.refresh_token).then(
      () => 'works',
      (err: unknown) => (isServiceError(err, 'invalid_refresh_token') ? 'refused' : err),
    );
    expect(refresh).toBe(effect.sessions === 'kept' ? 'works' : 'refused');
  });

  // Through the API the caller is always another enabled admin, so the last-admin rule holds for the
  // race where two admins remove each other at once: whichever goes second is refused.
  it('never removes the last enabled admin', async () => {
    const adminA = await t.userWithRole('admin');
    const adminB = await t.userWithRole('admin');
    const idOf = async (username: string) =>
      (await t.sql<{ id: string }[]>`select id from users where username = ${username}`)[0]?.id ?? '';
    const [a, b] = [await idOf(adminA.username), await idOf(adminB.username)];
    const as = (userId: string, username: string): SignedInCaller => ({
      principal: { userId, username, role: 'admin', tokenId: 'test' },
      clientAddress: '127.0.0.1',
      audit: {},
    });
    // Leave A and B the only enabled admins, then have each remove the other at the same moment.
    await t.sql`update users set disabled_at = ${t.clock.now()} where role = 'admin' and id not in (${a}, ${b})`;
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'done',
        (err: unknown) => (isServiceError(err, 'conflict') ? 'last_admin' : err),
      );
    const results = await Promise.all([
      outcome(t.services.users.disable(as(b, adminB.username), a)),
      outcome(t.services.users.delete(as(a, adminA.username), b)),
    ]);
    expect(results.sort()).toEqual(['done', 'last_admin']);
    const [row] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from users where role = 'admin' and disabled_at is null`;
    expect(row?.n).toBe(1);
  });
});
