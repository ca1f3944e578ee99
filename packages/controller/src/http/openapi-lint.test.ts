import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/temp-dir.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

const run = promisify(execFile);

describe('the OpenAPI document', () => {
  let t: TestApp;
  let doc: {
    servers?: unknown[];
    paths: Record<
      string,
      Record<
        string,
        {
          operationId?: string;
          security?: unknown[];
          parameters?: Array<{
            name: string;
            in: string;
            description?: string;
            schema: Record<string, unknown>;
          }>;
          responses: Record<string, { headers?: Record<string, unknown> }>;
        }
      >
    >;
  };
  beforeAll(async () => {
    t = await createTestApp();
    doc = (await t.request('GET', '/api/v1/openapi.json')).body;
  });
  afterAll(async () => {
    await t.close();
  });

  it('passes `redocly lint` with its recommended rules: no error, no warning', async () => {
    const file = join(tempDir('cockpit-openapi-'), 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const redocly = join(import.meta.dirname, '../../node_modules/.bin/redocly');
    const result = await run(redocly, ['lint', '--extends=recommended', '--format=summary', file], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    }).catch((err: { stdout: string; stderr: string }) => err);
    const output = `${result.stdout}\n${result.stderr}`;
    // The summary lists each rule that fired as `error <rule>: n` or `warning <rule>: n`.
    expect(output.match(/^\s*(error|warning)\s+[\w-]+: \d+$/gm) ?? []).toEqual([]);
    expect(output).toContain('Your API description is valid');
  });

  it('names every operation, and documents the headers answers carry', () => {
    const operations = Object.values(doc.paths).flatMap((ops) => Object.values(ops));
    const ids = operations.map((op) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const login = doc.paths['/api/v1/auth/login']?.post;
    expect(login?.security).toEqual([]);
    expect(Object.keys(login?.responses['429']?.headers ?? {})).toContain('Retry-After');
    expect(Object.keys(login?.responses['200']?.headers ?? {})).toContain('X-Request-Id');
    const hosts = doc.paths['/api/v1/hosts']?.get;
    expect(Object.keys(hosts?.responses['401']?.headers ?? {})).toEqual(['X-Request-Id', 'WWW-Authenticate']);
    const vms = doc.paths['/api/v1/vms']?.get;
    expect(Object.keys(vms?.responses['200']?.headers ?? {})).toEqual([
      'X-Request-Id',
      'Content-Encoding',
      'Vary',
    ]);
    expect(doc.servers).toEqual([{ url: '/', description: 'This controller' }]);
  });

  it('documents query parameters as clients must send them: one type, integers with their bounds', () => {
    const params = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.values(ops).flatMap((op) =>
        (op.parameters ?? [])
          .filter((p) => p.in === 'query')
          .map((p) => ({ where: `${path} ${p.name}`, ...p })),
      ),
    );
    expect(params.length).toBeGreaterThan(10);
    const wrong = params.filter(
      (p) =>
        typeof p.schema.type !== 'string' ||
        (p.schema.type === 'integer' && (p.schema.minimum === undefined || p.schema.maximum === undefined)),
    );
    expect(wrong.map((p) => `${p.where}: ${JSON.stringify(p.schema)}`)).toEqual([]);
    expect(doc.paths['/api/v1/audit']?.get?.parameters?.find((p) => p.name === 'limit')?.schema).toEqual({
      type: 'integer',
      minimum: 1,
      maximum: 500,
      default: 50,
      description: 'Page size (1 to 500).',
    });
  });

  it('answers only the statuses a parameter’s description promises (`?wait=`: 200 with …, 202 with …)', () => {
    const broken = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).flatMap(([method, op]) =>
        (op.parameters ?? []).flatMap((p) =>
          [...(p.description ?? '').matchAll(/\b([1-5]\d\d) with\b/g)]
            .map((m) => m[1] ?? '')
            .filter((status) => op.responses[status] === undefined)
            .map(
              (status) => `${method.toUpperCase()} ${path} ?${p.name}: ${status} is not a documented answer`,
            ),
        ),
      ),
    );
    expect(broken).toEqual([]);
    const wait = doc.paths['/api/v1/vms/{id}/action']?.post?.parameters?.find((p) => p.name === 'wait');
    expect(wait?.description).toMatch(/200 with .* 202 with/);
  });

  it('lists every error code a route may answer, also those that share a status (the 409s of an action)', () => {
    const action = doc.paths['/api/v1/vms/{id}/action']?.post?.responses as
      | Record<string, { description: string }>
      | undefined;
    const codes = [...(action?.['409']?.description ?? '').matchAll(/^- `(\w+)`/gm)].map((m) => m[1]);
    expect(codes).toEqual([
      'vm_not_running',
      'vm_already_running',
      'vm_not_paused',
      'vm_already_paused',
      'vm_paused',
      'host_disconnected',
      'operation_in_progress',
      'conflict',
    ]);
    const bad = action?.['400']?.description ?? '';
    expect(bad).toContain('`validation_failed`');
    expect(bad).toContain('`bad_request`');
    // A status with one code keeps its plain description.
    expect(action?.['404']?.description).toBe('No such resource.');
  });
});
