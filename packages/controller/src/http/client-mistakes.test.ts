import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

// "A client mistake is never a 500", checked on every route the OpenAPI document lists, so a route
// added later is covered without touching this file: each gets malformed and mistyped requests.

interface Operation {
  method: string;
  path: string;
  params: Array<{ name: string; in: string }>;
  hasBody: boolean;
  /** Property names of the JSON body schema, each of which gets mistyped values. */
  fields: string[];
  /** The body schema's `additionalProperties` (false: unknown fields are refused). */
  additionalProperties: unknown;
}

const GARBAGE_BODIES: Array<{ body: string; contentType: string }> = [
  { body: '{"unterminated": ', contentType: 'application/json' },
  { body: '[]', contentType: 'application/json' },
  { body: 'null', contentType: 'application/json' },
  { body: '"text"', contentType: 'application/json' },
  { body: '{}', contentType: 'application/json' },
  {
    body: '{"__proto__": {"admin": true}, "constructor": {"prototype": {}}}',
    contentType: 'application/json',
  },
  { body: 'a=1', contentType: 'application/x-www-form-urlencoded' },
  { body: '<xml/>', contentType: 'application/xml' },
];

const LIBRARY_WORDING =
  /Invalid input|Invalid option|Invalid string|Too small|Too big|expected \w+ to be|Unrecognized key|jwt /;

const EXTREME_VALUES = [
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59-23:59',
  '999999999999.5',
  '99999999999999999999',
];

const GARBAGE_VALUES: unknown[] = [12345, -1, true, null, [], {}, 'x'.repeat(5000), '\u0000', '💥'];

describe('client mistakes on every documented route', () => {
  let t: TestApp;
  let token: string;
  let operations: Operation[];
  beforeAll(async () => {
    t = await createTestApp();
    token = (await t.userWithRole('admin')).tokens.token;
    const doc = (await t.request('GET', '/api/v1/openapi.json')).body;
    const schemas = (doc.components?.schemas ?? {}) as Record<
      string,
      { properties?: Record<string, unknown> }
    >;
    const resolve = (schema: { $ref?: string } | undefined) =>
      (schema?.$ref ? schemas[schema.$ref.split('/').pop() ?? ''] : schema) as
        | { properties?: Record<string, unknown>; additionalProperties?: unknown }
        | undefined;
    operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, item]) =>
        Object.entries(item).map(([method, op]) => {
          const o = op as {
            parameters?: Array<{ name: string; in: string }>;
            requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> };
          };
          const bodySchema = o.requestBody?.content?.['application/json']?.schema;
          return {
            method: method.toUpperCase(),
            path,
            params: o.parameters ?? [],
            hasBody: o.requestBody !== undefined,
            fields: Object.keys(resolve(bodySchema)?.properties ?? {}),
            additionalProperties: resolve(bodySchema)?.additionalProperties,
          };
        }),
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it('finds the routes in the OpenAPI document', () => {
    expect(operations.length).toBeGreaterThan(5);
    expect(operations).toContainEqual(expect.objectContaining({ method: 'GET', path: '/api/v1/hosts' }));
    expect(operations).toContainEqual(
      expect.objectContaining({ path: '/api/v1/auth/login', fields: ['username', 'password'] }),
    );
  });

  it('documents every request body as closed, and refuses a field it does not know (a typo) with 400', async () => {
    const withBody = operations.filter((op) => op.hasBody);
    expect(withBody.length).toBeGreaterThan(5);
    const failures: string[] = [];
    for (const op of withBody) {
      if (op.additionalProperties !== false)
        failures.push(`${op.method} ${op.path}: not documented as closed`);
      const path = op.path.replace(/\{[^}]+\}/g, '019e0014-abcd-7057-b326-0000000000ff');
      const res = await t.request(op.method, path, { token, body: { misspelt_field: true } });
      const details = (res.body?.error?.details ?? []) as Array<{ path: string; message: string }>;
      if (res.status !== 400 || !details.some((d) => d.message === 'unknown field: misspelt_field')) {
        failures.push(`${op.method} ${path} → ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers malformed, mistyped and oversized requests with 4xx, never 5xx', async () => {
    const failures: string[] = [];
    const check = async (
      method: string,
      url: string,
      init: { rawBody?: string; headers?: Record<string, string> },
    ) => {
      const res = await t.request(method, url, { token, ...init });
      if (res.status >= 500 || (res.body?.error?.requestId === undefined && res.status >= 400)) {
        failures.push(`${method} ${url} ${init.rawBody ?? ''} → ${res.status} ${res.text.slice(0, 120)}`);
      }
      // Our own words only: never a library's (zod's "Too small: expected number to be >=1").
      if (LIBRARY_WORDING.test(res.text)) {
        failures.push(`${method} ${url} ${init.rawBody ?? ''} → library wording: ${res.text.slice(0, 200)}`);
      }
    };
    // Thousands of requests: sent 8 at a time (the answers do not depend on order; all are refused).
    const requests: Array<() => Promise<void>> = [];
    for (const op of operations) {
      const paths = ['not-a-uuid', '%ZZ', '0', '019e0014-abcd-7057-b326-0000000000ff'].map((value) =>
        op.path.replace(/\{[^}]+\}/g, value),
      );
      const queries = op.params
        .filter((p) => p.in === 'query')
        .flatMap((p) => [
          ...['%ZZ', 'x'.repeat(3000), '-1', ''].map((v) => `?${p.name}=${v}&${p.name}=again`),
          // Well-formed values out of range: times PostgreSQL cannot store, numbers past 2^53.
          ...EXTREME_VALUES.map((v) => `?${p.name}=${encodeURIComponent(v)}`),
        ]);
      for (const path of paths) {
        for (const query of ['', ...queries]) requests.push(() => check(op.method, `${path}${query}`, {}));
        if (op.hasBody) {
          for (const { body, contentType } of GARBAGE_BODIES) {
            requests.push(() =>
              check(op.method, path, { rawBody: body, headers: { 'content-type': contentType } }),
            );
          }
          for (const value of GARBAGE_VALUES) {
            const body = JSON.stringify(Object.fromEntries(op.fields.map((field) => [field, value])));
            requests.push(() =>
              check(op.method, path, { rawBody: body, headers: { 'content-type': 'application/json' } }),
            );
          }
        }
      }
    }
    const next = requests.values();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let request = next.next(); !request.done; request = next.next()) await request.value();
      }),
    );
    expect(requests.length).toBeGreaterThan(1000);
    expect(failures).toEqual([]);
    // A sweep of every route: ~20 s on two loaded cores, so more than the default 30 s of room.
  }, 90_000);
});
