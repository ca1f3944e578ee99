import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import {
  deleteRefreshTokensBefore,
  hashRefreshToken,
  pruneDeadFamilies,
  revokeAllFamilies,
  revokeFamilyOf,
  rotateRefreshToken,
  storeRefreshToken,
} from './refresh-tokens.ts';

// The refresh-token store on its own against PostgreSQL with set times: rotation at the expiry
// boundary, revocation that touches only what it names, and the clean-ups' counts.
describe('refresh-token store', () => {
  let db: TestDatabase;
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const at = (seconds: number) => new Date(t0 + seconds * 1000);
  const TTL = 100;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function newUser(): Promise<string> {
    const id = randomUUID();
    await db.sql`
      insert into users (id, username, password_hash, role, created_at, updated_at)
      values (${id}, ${`user-${id}`}, 'x', 'operator', ${at(0)}, ${at(0)})`;
    return id;
  }
  const familyOf = async (token: string) =>
    (
      await db.sql<{ id: string; revoked_at: Date | null; revoked_reason: string | null }[]>`
        select f.id, f.revoked_at, f.revoked_reason from refresh_token_families f
        join refresh_tokens t on t.family_id = f.id where t.token_hash = ${hashRefreshToken(token)}`
    )[0];
  const familiesOf = async (userId: string) =>
    (
      await db.sql<
        { n: number }[]
      >`select count(*)::int as n from refresh_token_families where user_id = ${userId}`
    )[0]?.n;

  it('rotates until the last second of a token, refuses it at its expiry, and the spend stands', async () => {
    const userId = await newUser();
    const first = await storeRefreshToken(db.sql, { userId, now: at(0), ttlSeconds: TTL });
    const second = await rotateRefreshToken(db.sql, first, at(TTL - 1), TTL);
    expect(second.kind).toBe('rotated');
    if (second.kind !== 'rotated') return;
    expect(second.user).toMatchObject({ id: userId, role: 'operator' });
    expect(await familyOf(second.token)).toMatchObject({ id: (await familyOf(first))?.id });

    // The successor expires TTL after its rotation: at that instant it is dead.
    expect(await rotateRefreshToken(db.sql, second.token, at(2 * TTL - 1), TTL)).toEqual({ kind: 'invalid' });
    // Presented again, it is spent: reuse, and the family is revoked.
    const again = await rotateRefreshToken(db.sql, second.token, at(2 * TTL), TTL);
    expect(again).toEqual({ kind: 'reused', familyId: (await familyOf(first))?.id, userId });
    expect(await familyOf(first)).toMatchObject({ revoked_at: at(2 * TTL), revoked_reason: 'reuse' });
  });

  it('keeps the first revocation of a family: later reuse changes neither its time nor its reason', async () => {
    const userId = await newUser();
    const token = await storeRefreshToken(db.sql, { userId, now: at(0), ttlSeconds: TTL });
    expect(await revokeFamilyOf(db.sql, token, userId, at(5))).toBe(true);
    expect((await rotateRefreshToken(db.sql, token, at(6), TTL)).kind).toBe('invalid');
    expect((await rotateRefreshToken(db.sql, token, at(7), TTL)).kind).toBe('reused');
    expect(await familyOf(token)).toMatchObject({ revoked_at: at(5), revoked_reason: 'logout' });
    // Already revoked: a second logout revokes nothing.
    expect(await revokeFamilyOf(db.sql, token, userId, at(8))).toBe(false);
  });

  it("does not revoke another user's family on logout", async () => {
    const owner = await newUser();
    const other = await newUser();
    const token = await storeRefreshToken(db.sql, { userId: owner, now: at(0), ttlSeconds: TTL });
    expect(await revokeFamilyOf(db.sql, token, other, at(1))).toBe(false);
    expect(await familyOf(token)).toMatchObject({ revoked_at: null });
    expect(await revokeFamilyOf(db.sql, 'not-a-token', owner, at(1))).toBe(false);
  });

  it('revokes every live family of one user with the reason given, and counts them', async () => {
    const userId = await newUser();
    const bystander = await newUser();
    const a = await storeRefreshToken(db.sql, { userId, now: at(0), ttlSeconds: TTL });
    const b = await storeRefreshToken(db.sql, { userId, now: at(0), ttlSeconds: TTL });
    const gone = await storeRefreshToken(db.sql, { userId, now: at(0), ttlSeconds: TTL });
    await revokeFamilyOf(db.sql, gone, userId, at(1));
    const theirs = await storeRefreshToken(db.sql, { userId: bystander, now: at(0), ttlSeconds: TTL });

    expect(await revokeAllFamilies(db.sql, userId, at(2), 'disabled')).toBe(2);
    expect(await familyOf(a)).toMatchObject({ revoked_at: at(2), revoked_reason: 'disabled' });
    expect(await familyOf(b)).toMatchObject({ revoked_at: at(2), revoked_reason: 'disabled' });
    expect(await familyOf(gone)).toMatchObject({ revoked_at: at(1), revoked_reason: 'logout' });
    expect(await familyOf(theirs)).toMatchObject({ revoked_at: null });
    expect(await revokeAllFamilies(db.sql, userId, at(3), 'disabled')).toBe(0);
  });

  it("prunes a user's revoked and fully expired families, keeping live ones with their spent tokens", async () => {
    const userId = await newUser();
    const bystander = await newUser();
    const revoked = await storeRefreshToken(db.sql, { userId, now: at(0), ttlSeconds: TTL });
    await revokeFamilyOf(db.sql, revoked, userId, at(1));
    await storeRefreshToken(db.sql, { userId, now: at(0), ttlSeconds: 10 }); // expired at 10
    const spent = await storeRefreshToken(db.sql, { userId, now: at(0), ttlSeconds: TTL });
    const live = await rotateRefreshToken(db.sql, spent, at(20), TTL);
    await storeRefreshToken(db.sql, { userId: bystander, now: at(0), ttlSeconds: 10 });

    await pruneDeadFamilies(db.sql, userId, at(30));
    expect(await familiesOf(userId)).toBe(1);
    // The live family kept its spent token: presenting it is still detected as reuse.
    expect(live.kind).toBe('rotated');
    expect((await rotateRefreshToken(db.sql, spent, at(31), TTL)).kind).toBe('reused');
    // Another user's expired family is not this prune's business.
    expect(await familiesOf(bystander)).toBe(1);
  });

  it('retention deletes tokens expired before the cutoff and emptied old families, and counts both', async () => {
    const userId = await newUser();
    // A day before the other tests' rows, so the clean-up (which spans all users) sees only these.
    const day = (seconds: number) => at(seconds - 86_400);
    // Family A: one token expired at 10, one live until 1000: the expired token goes, the family stays.
    const a1 = await storeRefreshToken(db.sql, { userId, now: day(0), ttlSeconds: 10 });
    const familyA = (await familyOf(a1))?.id as string;
    await storeRefreshToken(db.sql, { userId, familyId: familyA, now: day(0), ttlSeconds: 1000 });
    // Family B: its only token expired at 10: token and family go.
    await storeRefreshToken(db.sql, { userId, now: day(0), ttlSeconds: 10 });
    // Family C: expires exactly at the cutoff: kept (only what expired before it goes).
    const c = await storeRefreshToken(db.sql, { userId, now: day(0), ttlSeconds: 50 });

    expect(await deleteRefreshTokensBefore(db.sql, day(50))).toBe(3);
    expect(await familiesOf(userId)).toBe(2);
    expect(await familyOf(c)).toBeDefined();
    expect(await deleteRefreshTokensBefore(db.sql, day(50))).toBe(0);
  });
});
