import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../test/support/agent-test-helpers.ts';
import { holdInTransaction } from '../../test/support/held-lock.ts';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';
import { hashRefreshToken } from '../auth/refresh-tokens.ts';

const refresh = (t: TestApp, refresh_token: unknown) =>
  t.request('POST', '/api/v1/auth/refresh', { body: { refresh_token } });

describe.each(['server', 'embedded'] as const)('POST /api/v1/auth/refresh (%s database)', (database) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ database });
  });
  afterAll(async () => {
    await t.close();
  });

  it('rotates: the answer has the login’s shape, a new refresh token and a working access token', async () => {
    const first = await t.login('admin', TEST_ADMIN_PASSWORD);
    t.clock.advance(5_000);
    const res = await refresh(t, first.refresh_token);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['expires_in', 'refresh_token', 'token']);
    expect(res.body.expires_in).toBe(3600);
    expect(res.body.refresh_token).not.toBe(first.refresh_token);
    expect(res.body.token).not.toBe(first.token);
    expect((await t.request('GET', '/api/v1/hosts', { token: res.body.token })).status).toBe(200);
    // The successor rotates in turn.
    expect((await refresh(t, res.body.refresh_token)).status).toBe(200);
  });

  it('treats a second use as theft: 401, and the whole family is revoked', async () => {
    const first = await t.login('admin', TEST_ADMIN_PASSWORD);
    const second = (await refresh(t, first.refresh_token)).body;
    const reuse = await refresh(t, first.refresh_token);
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe('unauthorized');
    // The legitimate successor died with the family.
    expect((await refresh(t, second.refresh_token)).status).toBe(401);
    const [family] = await t.sql<{ revoked_reason: string }[]>`
      select f.revoked_reason from refresh_token_families f
      join refresh_tokens r on r.family_id = f.id
      where r.token_hash = encode(sha256(convert_to(${first.refresh_token}, 'UTF8')), 'hex')`;
    expect(family?.revoked_reason).toBe('reuse');
  });

  it('a client that lost a refresh response logs in again; other sessions are untouched', async () => {
    const other = await t.login('admin', TEST_ADMIN_PASSWORD);
    const mine = await t.login('admin', TEST_ADMIN_PASSWORD);
    await refresh(t, mine.refresh_token); // the response is "lost"
    expect((await refresh(t, mine.refresh_token)).status).toBe(401); // the retry is reuse
    const again = await t.login('admin', TEST_ADMIN_PASSWORD);
    expect((await refresh(t, again.refresh_token)).status).toBe(200);
    expect((await refresh(t, other.refresh_token)).status).toBe(200);
  });

  it('refuses an expired refresh token, and the next login prunes dead sessions', async () => {
    const tokens = await t.login('admin', TEST_ADMIN_PASSWORD);
    t.clock.advance(t.config.auth.refreshTokenTtlSeconds * 1000);
    const res = await refresh(t, tokens.refresh_token);
    expect(res.status).toBe(401);
    await t.login('admin', TEST_ADMIN_PASSWORD);
    const [row] = await t.sql<{ n: number }[]>`select count(*)::int as n from refresh_token_families`;
    expect(row?.n).toBe(1);
  });

  it('refuses an access token, an unknown token, and answers 400 naming the field', async () => {
    const tokens = await t.login('admin', TEST_ADMIN_PASSWORD);
    expect((await refresh(t, tokens.token)).status).toBe(401);
    expect((await refresh(t, 'x'.repeat(43))).status).toBe(401);
    for (const body of [
      {},
      { refresh_token: '' },
      { refresh_token: 42 },
      { refresh_token: 'x'.repeat(513) },
    ]) {
      const res = await t.request('POST', '/api/v1/auth/refresh', { body });
      expect(res.status).toBe(400);
      expect(res.body.error.details[0].path).toBe('body.refresh_token');
    }
  });
});

describe('refresh races and disabled users', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('lets exactly one of two concurrent refreshes with one token win; the loser revokes the family', async () => {
    const tokens = await t.login('admin', TEST_ADMIN_PASSWORD);
    const results = await Promise.all([refresh(t, tokens.refresh_token), refresh(t, tokens.refresh_token)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const winner = results.find((r) => r.status === 200)?.body;
    expect((await refresh(t, winner.refresh_token)).status).toBe(401);
  });

  it('stops working once the user is disabled, and stays dead after re-enabling', async () => {
    const admin = await t.login('admin', TEST_ADMIN_PASSWORD);
    const viewer = await t.userWithRole('viewer');
    const [row] = await t.sql<{ id: string }[]>`select id from users where username = ${viewer.username}`;
    const id = row?.id;
    expect((await t.request('POST', `/api/v1/users/${id}/disable`, { token: admin.token })).status).toBe(200);
    expect((await refresh(t, viewer.tokens.refresh_token)).status).toBe(401);
    expect((await t.request('POST', `/api/v1/users/${id}/enable`, { token: admin.token })).status).toBe(200);
    expect((await refresh(t, viewer.tokens.refresh_token)).status).toBe(401);
    expect((await t.login(viewer.username, viewer.password)).expires_in).toBe(3600);
  });
});

describe('POST /api/v1/auth/refresh under true overlap (server database)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('lets exactly one of two refreshes that both wait on the token’s row win', async () => {
    const tokens = await t.login('admin', TEST_ADMIN_PASSWORD);
    const hash = hashRefreshToken(tokens.refresh_token);
    // Hold the token's row so both requests reach the database and wait there together.
    const holder = await holdInTransaction(
      t.sql,
      (tx) => tx`select 1 from refresh_tokens where token_hash = ${hash} for update`,
    );
    const both = Promise.all([refresh(t, tokens.refresh_token), refresh(t, tokens.refresh_token)]);
    await eventually(
      'both refreshes waiting on the row lock',
      async () => {
        const [row] = await t.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'`;
        return row?.n ?? 0;
      },
      (n) => n >= 2,
    );
    await holder.release();
    const results = await both;
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const loser = results.find((r) => r.status === 401);
    expect(loser?.body.error.code).toBe('unauthorized');
  });

  it('refuses a refresh by a user disabled directly in the database (another replica’s write)', async () => {
    const viewer = await t.userWithRole('viewer');
    await t.sql`update users set disabled_at = ${t.clock.now()} where username = ${viewer.username}`;
    // No cache to clear, no session revoked: only the database says the user is disabled.
    const res = await refresh(t, viewer.tokens.refresh_token);
    expect(res.status).toBe(401);
    await t.sql`update users set disabled_at = null where username = ${viewer.username}`;
    // The refused attempt spent the token: it stays dead after re-enabling.
    expect((await refresh(t, viewer.tokens.refresh_token)).status).toBe(401);
  });
});
