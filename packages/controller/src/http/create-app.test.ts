import { createRoute, z } from '@hono/zod-openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../test/support/agent-test-helpers.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

describe('the HTTP layer', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { COCKPIT_BODY_LIMIT_BYTES: '1024' } });
    // Routes only this suite needs: a JSON body with constraints, and a handler with a bug.
    t.app.openapi(
      createRoute({
        method: 'post',
        path: '/test/echo/{id}',
        request: {
          params: z.object({ id: z.uuid() }),
          query: z.object({ limit: z.coerce.number().int().min(1).optional() }),
          body: {
            required: true,
            content: {
              'application/json': { schema: z.object({ name: z.string().min(1), count: z.number().int() }) },
            },
          },
        },
        responses: { 200: { description: 'echo' } },
      }),
      (c) => c.json({ ...c.req.valid('json'), ...c.req.valid('param') }, 200),
    );
    t.app.get('/test/boom', () => {
      throw new Error('secret internal detail');
    });
    t.app.get('/test/slow-query', async (c) => c.json(await t.sql`select pg_sleep(30) as slept`));
    // Two transactions that each lock a row the other then wants: PostgreSQL rolls one back (40P01).
    t.app.get('/test/deadlock', async () => {
      await t.sql`create table if not exists test_deadlock (id int primary key)`;
      await t.sql`insert into test_deadlock values (1), (2) on conflict do nothing`;
      let locked = 0;
      let bothLocked: () => void = () => undefined;
      const both = new Promise<void>((resolve) => {
        bothLocked = resolve;
      });
      const crossed = (first: number, second: number) =>
        t.sql.begin(async (tx) => {
          await tx`select id from test_deadlock where id = ${first} for update`;
          if (++locked === 2) bothLocked();
          await both;
          await tx`select id from test_deadlock where id = ${second} for update`;
        });
      const settled = await Promise.allSettled([crossed(1, 2), crossed(2, 1)]);
      throw settled.find((r) => r.status === 'rejected')?.reason ?? new Error('no deadlock');
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const id = '019e0014-abcd-7057-b326-000000000001';

  it('accepts a valid request', async () => {
    const res = await t.request('POST', `/test/echo/${id}`, { body: { name: 'a', count: 2 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: 'a', count: 2, id });
  });

  it('answers a validation failure with 400 naming every failing field', async () => {
    const res = await t.request('POST', '/test/echo/not-a-uuid?limit=0', { body: { name: '', count: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.requestId).toBe(res.headers.get('x-request-id'));
    // One request part (query, path, body) is checked after another: the first failing one is reported.
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['query.limit']);

    const param = await t.request('POST', '/test/echo/not-a-uuid', { body: { name: 'a', count: 1 } });
    expect(param.status).toBe(400);
    expect(param.body.error.details.map((d: { path: string }) => d.path)).toEqual(['path.id']);

    const fields = await t.request('POST', `/test/echo/${id}`, { body: { name: '', count: 'x' } });
    expect(fields.status).toBe(400);
    expect(fields.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'body.count',
      'body.name',
    ]);
    for (const d of fields.body.error.details) expect(d.message).toEqual(expect.any(String));
    // The message says what is wrong with each field, not only where.
    const nameIssue = fields.body.error.details.find((d: { path: string }) => d.path === 'body.name');
    expect(fields.body.error.message).toContain(`body.name: ${nameIssue.message}`);

    const missing = await t.request('POST', `/test/echo/${id}`, { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details).toHaveLength(2);

    // Past three issues the message counts the rest; details lists them all.
    const admin = (await t.userWithRole('admin')).tokens.token;
    const many = await t.request('POST', '/api/v1/users', {
      token: admin,
      body: { username: '', password: '', role: 'root', colour: 'blue' },
    });
    expect(many.status).toBe(400);
    expect(many.body.error.details).toHaveLength(4);
    expect(many.body.error.message).toMatch(
      /^invalid request: (body[.\w]*: [^;]+; ){3}and 1 more \(see details\)$/,
    );
  });

  it('refuses NUL characters in any validated field with 400 naming it, on every route', async () => {
    const res = await t.request('POST', `/test/echo/${id}`, { body: { name: 'a\u0000b', count: 1 } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual([
      { path: 'body.name', message: 'must not contain NUL (U+0000) characters' },
    ]);
    // A real route: the name never reaches the database (whose text cannot hold NUL).
    const login = await t.request('POST', '/api/v1/auth/login', {
      body: { username: 'adm\u0000in', password: 'whatever-it-is' },
    });
    expect(login.status).toBe(400);
    expect(login.body.error.details[0].path).toBe('body.username');
  });

  it('answers malformed JSON with 400 bad_request', async () => {
    const res = await t.request('POST', `/test/echo/${id}`, {
      rawBody: '{"name": "a",',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
  });

  it('answers a non-JSON body with 415', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await t.request('POST', `/test/echo/${id}`, {
        rawBody: 'name=a&count=1',
        headers: { 'content-type': contentType },
      });
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe('unsupported_media_type');
    }
  });

  it('answers a body over the limit with 413', async () => {
    const res = await t.request('POST', `/test/echo/${id}`, { body: { name: 'x'.repeat(2000), count: 1 } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    // Without a Content-Length the limit holds too.
    const chunked = await fetch(`${t.url}/test/echo/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(`{"name":"${'y'.repeat(4000)}","count":1}`));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it('answers an unknown path with 404 and a known path with the wrong method with 405 + Allow', async () => {
    const missing = await t.request('GET', '/api/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');

    const wrong = await t.request('DELETE', '/api/v1/hosts');
    expect(wrong.status).toBe(405);
    expect(wrong.body.error.code).toBe('method_not_allowed');
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');

    // A trailing slash is another path (Hono routes strictly): 404, not a 405 that names GET.
    const slash = await t.request('GET', '/api/v1/hosts/');
    expect(slash.status).toBe(404);

    const param = await t.request('GET', `/test/echo/${id}`);
    expect(param.status).toBe(405);
    expect(param.headers.get('allow')).toBe('POST');

    // A literal path beside a parameter (`/hosts/join-tokens` beside `/hosts/{id}`) is its own resource:
    // the wrong method there is a 405 naming its methods, not a 400 refusing `join-tokens` as a host id.
    const admin = (await t.userWithRole('admin')).tokens.token;
    for (const method of ['GET', 'DELETE']) {
      const literal = await t.request(method, '/api/v1/hosts/join-tokens', { token: admin });
      expect(literal.status, literal.text).toBe(405);
      expect(literal.body.error.code).toBe('method_not_allowed');
      expect(literal.headers.get('allow')).toBe('POST');
    }
  });

  it('answers a bug with 500 internal, logs the stack, and keeps it out of the body', async () => {
    const res = await t.request('GET', '/test/boom', { headers: { 'x-request-id': 'boom-1' } });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      error: { code: 'internal', message: 'internal server error', requestId: 'boom-1' },
    });
    expect(res.text).not.toContain('secret internal detail');
    const logged = t.logs.find((l) => l.requestId === 'boom-1' && l.msg === 'unhandled error');
    expect((logged?.err as { stack?: string } | undefined)?.stack).toContain('secret internal detail');
  });

  it('answers 503 with Retry-After when the database connection goes away under a request', async () => {
    const answer = t.request('GET', '/test/slow-query', { headers: { 'x-request-id': 'db-gone-1' } });
    await eventually(
      'the query running on the server',
      async () =>
        (
          await t.sql<{ pid: number }[]>`
            select pid from pg_stat_activity
            where datname = current_database() and query like 'select pg_sleep(30)%' and pid <> pg_backend_pid()`
        ).length,
      (n) => n === 1,
    );
    // As a restart of PostgreSQL or a failover does to it.
    await t.sql`
      select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and query like 'select pg_sleep(30)%' and pid <> pg_backend_pid()`;
    const res = await answer;
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.body).toEqual({
      error: {
        code: 'service_unavailable',
        message: 'the database is unreachable or overloaded right now; retry shortly',
        requestId: 'db-gone-1',
      },
    });
    const logged = t.logs.find((l) => l.requestId === 'db-gone-1' && l.msg === 'database unavailable');
    expect(logged?.level).toBe(40);
    expect(t.logs.some((l) => l.requestId === 'db-gone-1' && l.msg === 'unhandled error')).toBe(false);
    // The pool opens a new connection for the next request.
    expect((await t.request('GET', '/readyz')).status).toBe(200);
  });

  it('answers 503 with Retry-After when the request’s transaction was rolled back for a deadlock', async () => {
    const res = await t.request('GET', '/test/deadlock', { headers: { 'x-request-id': 'deadlock-1' } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.body).toEqual({
      error: {
        code: 'service_unavailable',
        message: 'the request met a concurrent change in the database and was rolled back; retry it',
        requestId: 'deadlock-1',
      },
    });
    const logged = t.logs.find((l) => l.requestId === 'deadlock-1' && l.msg === 'database conflict');
    expect((logged?.err as { code?: string } | undefined)?.code).toBe('40P01');
    expect(t.logs.some((l) => l.requestId === 'deadlock-1' && l.msg === 'unhandled error')).toBe(false);
  });

  it('keeps a plain incoming request id, replaces anything else, and logs each request with it', async () => {
    const kept = await t.request('GET', '/healthz', { headers: { 'x-request-id': 'client-abc.123' } });
    expect(kept.headers.get('x-request-id')).toBe('client-abc.123');
    const line = t.logs.find((l) => l.requestId === 'client-abc.123' && l.msg === 'request');
    expect(line).toMatchObject({
      method: 'GET',
      path: '/healthz',
      status: 200,
      // Probes log at debug (20); every other request at info (30).
      level: 20,
      client: '127.0.0.1',
    });
    await t.request('GET', '/api/v1/openapi.json', { headers: { 'x-request-id': 'not-a-probe' } });
    expect(t.logs.find((l) => l.requestId === 'not-a-probe' && l.msg === 'request')?.level).toBe(30);

    const replaced = await t.request('GET', '/healthz', {
      headers: { 'x-request-id': 'bad id\twith spaces' },
    });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const generated = await t.request('GET', '/healthz');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.headers.get('x-request-id')).not.toBe(replaced.headers.get('x-request-id'));
  });

  it('serves the OpenAPI 3.1 document generated from the route schemas, and the docs page', async () => {
    const doc = await t.request('GET', '/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(doc.body.components.securitySchemes.bearer).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
    );
    const hosts = doc.body.paths['/api/v1/hosts'].get;
    expect(hosts.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(hosts.responses)).toEqual(expect.arrayContaining(['200', '401', '403']));
    expect(doc.body.components.schemas.Host.properties.sync_cursor.type).toBe('integer');
    expect(doc.body.paths['/api/v1/vms'].get.parameters.map((p: { name: string }) => p.name)).toEqual([
      'host_id',
      'state',
      'name',
      'limit',
      'cursor',
    ]);

    const docs = await t.request('GET', '/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toContain('text/html');
    expect(docs.text).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(docs.headers.get('content-security-policy')).toContain("default-src 'self'");
    const init = await t.request('GET', '/docs/assets/docs.js');
    expect(init.text).toContain('/api/v1/openapi.json');
    expect((await t.request('GET', '/docs/assets/..%2Fpackage.json')).status).toBe(404);
    const root = await t.request('GET', '/');
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/docs');
  });
});
