import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RawResponse, rawRequest } from '../../test/support/raw-http.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import { fastLane, type LaneListener } from '../http/fast-lane.ts';
import { type RunningServer, serveHttp } from '../http/serve.ts';
import { v1VmsListFast } from './v1-vms-list.ts';

const HOST_A = '019e0014-abcd-7057-b326-00000000000a';
const HOST_B = '019e0014-abcd-7057-b326-00000000000b';
const VMS = 12;
/** A well-formed cursor whose name holds NUL, which no page gives and PostgreSQL text cannot hold. */
const NUL_CURSOR = Buffer.from(
  JSON.stringify(['web-\u0000', '6f1b1a0e-2c4d-4e8f-9a1b-000000000001']),
).toString('base64url');

type Headers = Record<string, string> | Array<[string, string]>;

/** What must be the same from both servers: all but the date and a request id made up per request. */
const comparable = (r: RawResponse) => {
  const { date: _date, 'x-request-id': requestId, ...headers } = r.headers;
  return { status: r.status, headers, body: r.body.toString('base64'), requestId };
};

describe('GET /api/v1/vms through the fast lane: the same answers as the full stack', () => {
  let t: TestApp;
  let token: string;
  let username: string;
  let full: RunningServer;
  let fast: RunningServer;
  let lane: LaneListener;

  beforeAll(async () => {
    t = await createTestApp();
    const viewer = await t.userWithRole('viewer');
    token = viewer.tokens.token;
    username = viewer.username;
    // Both disconnected: the deadline sweep would turn a 'connected' host without an agent
    // disconnected during the test, between the two answers compared.
    await t.sql`INSERT INTO hosts (id, hostname, status, last_seen_at) VALUES
      (${HOST_A}, 'node-a', 'disconnected', '2026-01-01T00:00:09Z'),
      (${HOST_B}, 'node-b', 'disconnected', '2026-01-01T00:00:01Z')`;
    for (let i = 1; i <= VMS; i++) {
      await t.sql`INSERT INTO vms (id, host_id, name, state, state_reason, vcpus, memory_mib, persistent,
                                   autostart, confirmed_at, updated_at)
        VALUES (${`6f1b1a0e-2c4d-4e8f-9a1b-${String(i).padStart(12, '0')}`}, ${i % 2 === 0 ? HOST_A : HOST_B},
                ${`web-${String(i).padStart(2, '0')}`}, ${i % 3 === 0 ? 'paused' : 'running'}, 'booted', 2,
                2048, true, true, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`;
    }
    // The same app and services behind both: one server with the lane in front, one without.
    full = await serveHttp(t.app.fetch, { port: 0, host: '127.0.0.1' });
    lane = fastLane(t.services, [v1VmsListFast]);
    fast = await serveHttp(t.app.fetch, { port: 0, host: '127.0.0.1' }, lane);
  });

  afterAll(async () => {
    await Promise.all([full?.close(0), fast?.close(0)]);
    await t?.close();
  });

  /** The request to both servers: their answers, and whether the lane answered it itself. */
  async function both(path: string, headers: Headers = {}, method = 'GET') {
    const before = { ...lane.counts };
    const fromFast = await rawRequest(fast.url, method, path, headers);
    const tookIt = lane.counts.fast > before.fast;
    const fromFull = await rawRequest(full.url, method, path, headers);
    return { fromFast: comparable(fromFast), fromFull: comparable(fromFull), tookIt, raw: fromFast };
  }

  const bearer = () => ({ authorization: `Bearer ${token}` });

  it('answers the plain queries of a viewer itself, byte for byte as the full stack does', async () => {
    const first = await both('/api/v1/vms?limit=5', bearer());
    const cursor = (JSON.parse(first.raw.body.toString()) as { next_cursor: string }).next_cursor;
    expect(cursor).toEqual(expect.any(String));
    const paths = [
      '/api/v1/vms',
      `/api/v1/vms?limit=5&cursor=${cursor}`,
      // Ids compare as values: an upper-case host id finds the same VMs.
      `/api/v1/vms?host_id=${HOST_A.toUpperCase()}&limit=3`,
      '/api/v1/vms?state=paused',
      '/api/v1/vms?name=web-07',
      '/api/v1/vms?name=no-such-vm',
    ];
    for (const [path, answers] of [
      ['/api/v1/vms?limit=5', first] as const,
      ...(await Promise.all(paths.map(async (p) => [p, await both(p, bearer())] as const))),
    ]) {
      expect({ path, tookIt: answers.tookIt }).toEqual({ path, tookIt: true });
      expect(answers.fromFast.status).toBe(200);
      expect({ path, ...answers.fromFast, requestId: 'new' }).toEqual({
        path,
        ...answers.fromFull,
        requestId: 'new',
      });
      expect(answers.fromFast.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('sends the page gzip-encoded when asked, and echoes a plain X-Request-Id, as the full stack does', async () => {
    const headers = { ...bearer(), 'accept-encoding': 'br;q=1, gzip;q=0.5', 'x-request-id': 'trace-42' };
    const answers = await both('/api/v1/vms', headers);
    expect(answers.tookIt).toBe(true);
    expect(answers.fromFast.headers['content-encoding']).toBe('gzip');
    expect(answers.fromFast).toEqual(answers.fromFull);
    expect(answers.fromFast.requestId).toBe('trace-42');
  });

  it('writes the same request line and duration metric as the full stack', async () => {
    const metric = `cockpit_http_request_duration_seconds_count{method="GET",route="/api/v1/vms",status="200"}`;
    const count = async () => {
      const text = await (await fetch(t.metricsUrl as string)).text();
      return Number(
        text
          .split('\n')
          .find((l) => l.startsWith(metric))
          ?.split(' ')[1] ?? 0,
      );
    };
    const counted = await count();
    const answers = await both('/api/v1/vms?limit=2', { ...bearer(), 'x-request-id': 'fast-line-1' });
    expect(answers.tookIt).toBe(true);
    expect(await count()).toBe(counted + 2);
    const lines = t.logs.filter((l) => l.msg === 'request' && l.requestId === 'fast-line-1');
    expect(lines).toHaveLength(2);
    const [fromFast, fromFull] = lines.map(({ time: _t, durationMs, ...rest }) => {
      expect(durationMs).toEqual(expect.any(Number));
      return rest;
    });
    expect(fromFast).toEqual(fromFull);
    expect(fromFast).toMatchObject({
      level: 30,
      method: 'GET',
      path: '/api/v1/vms',
      status: 200,
      user: username,
      client: '127.0.0.1',
    });
  });

  it('hands everything else to the full stack, which answers it as always', async () => {
    const cases: Array<[string, Headers, string?]> = [
      ['/api/v1/vms', {}], // no token: 401
      ['/api/v1/vms', { authorization: 'Bearer not-a-token' }], // 401
      ['/api/v1/vms', { authorization: `Basic ${token}` }], // 401
      [
        '/api/v1/vms',
        [
          ['authorization', `Bearer ${token}`],
          ['authorization', `Bearer ${token}`],
        ],
      ], // two Authorization fields: node refuses the request (400) before any listener sees it
      ['/api/v1/vms?limit=0', bearer()], // 400
      ['/api/v1/vms?limit=5&limit=6', bearer()], // 400: twice
      ['/api/v1/vms?state=bogus', bearer()], // 400
      ['/api/v1/vms?cursor=bm90LWEtY3Vyc29y', bearer()], // 400
      [`/api/v1/vms?cursor=${NUL_CURSOR}`, bearer()], // 400: a name PostgreSQL cannot hold
      ['/api/v1/vms?host_id=not-a-uuid', bearer()], // 400
      ['/api/v1/vms?limit', bearer()], // no "=": 400
      ['/api/v1/vms?name=web%2D07', bearer()], // encoded: decoded by the full stack, a 200
      ['/api/v1/vms?name=web+07', bearer()], // "+" is a space there: a 200, no VM
      ['/api/v1/vms?refresh=1', bearer()], // a key the route does not take: ignored, a 200
      ['/api/v1/vms/', bearer()], // another path: 404
      ['/api/v1/vms', bearer(), 'HEAD'],
      ['/api/v1/vms', bearer(), 'DELETE'], // 405
    ];
    const statuses: number[] = [];
    for (const [path, given, method] of cases) {
      // Error envelopes carry the request id: the same one for both.
      const id: [string, string] = ['x-request-id', 'handed-over'];
      const headers = Array.isArray(given) ? [...given, id] : { ...given, [id[0]]: id[1] };
      const answers = await both(path, headers, method);
      expect({ path, method, tookIt: answers.tookIt }).toEqual({ path, method, tookIt: false });
      expect({ path, method, ...answers.fromFast, requestId: 'new' }).toEqual({
        path,
        method,
        ...answers.fromFull,
        requestId: 'new',
      });
      statuses.push(answers.fromFast.status);
    }
    expect(statuses).toEqual([
      401, 401, 401, 400, 400, 400, 400, 400, 400, 400, 400, 200, 200, 200, 404, 200, 405,
    ]);
  });

  it('stops answering for a user who is disabled: the full stack refuses the token', async () => {
    const other = await t.userWithRole('viewer');
    const headers = { authorization: `Bearer ${other.tokens.token}`, 'x-request-id': 'disabled' };
    expect((await both('/api/v1/vms', headers)).tookIt).toBe(true);
    const admin = (await t.login('admin', 'test-admin-password-0123')).token;
    const userId = (await t.request('GET', '/api/v1/users', { token: admin })).body.users.find(
      (u: { username: string }) => u.username === other.username,
    ).id;
    expect((await t.request('POST', `/api/v1/users/${userId}/disable`, { token: admin })).status).toBe(200);
    const after = await both('/api/v1/vms', headers);
    expect(after.tookIt).toBe(false);
    expect(after.fromFast.status).toBe(401);
    expect({ ...after.fromFast, requestId: 'new' }).toEqual({ ...after.fromFull, requestId: 'new' });
  });

  it('hands a request to the full stack when the lane itself fails before answering, and logs it', async () => {
    // A fast route whose answer cannot be written (a header value with a line break).
    const broken = fastLane(t.services, [
      {
        path: '/api/v1/vms',
        answer: async () => ({
          status: 200,
          headers: { 'x-broken': 'a\nb' },
          body: new Uint8Array(1),
          user: 'x',
        }),
      },
    ]);
    const server = await serveHttp(t.app.fetch, { port: 0, host: '127.0.0.1' }, broken);
    try {
      const headers = { ...bearer(), 'x-request-id': 'broken-lane' };
      const fromBroken = comparable(await rawRequest(server.url, 'GET', '/api/v1/vms', headers));
      const fromFull = comparable(await rawRequest(full.url, 'GET', '/api/v1/vms', headers));
      expect(fromBroken.status).toBe(200);
      expect(fromBroken).toEqual(fromFull);
      expect(t.logs.filter((l) => l.msg === 'fast lane failed')).toHaveLength(1);
    } finally {
      await server.close(0);
    }
  });

  it('answers 100 requests at once, each with the page', async () => {
    const expected = await both('/api/v1/vms?limit=4', bearer());
    const before = lane.counts.fast;
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => rawRequest(fast.url, 'GET', '/api/v1/vms?limit=4', bearer())),
    );
    expect(lane.counts.fast - before).toBe(100);
    for (const a of answers) expect(comparable(a).body).toBe(expected.fromFull.body);
    expect(new Set(answers.map((a) => a.headers['x-request-id'])).size).toBe(100);
  });
});
