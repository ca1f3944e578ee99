import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RawResponse, rawRequest } from '../../test/support/raw-http.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import { ManualClock } from '../clock.ts';
import { GZIP_MIN_BYTES } from '../http/json-text.ts';

const HOST = '019e0014-abcd-7057-b326-000000000001';
const VMS = 12;

describe('GET /api/v1/vms, gzip-encoded when asked', () => {
  let t: TestApp;
  let get: (path: string, headers?: Record<string, string>, method?: string) => Promise<RawResponse>;

  beforeAll(async () => {
    // The clock a second after the host's last-seen time: the deadline sweep (every second, on this
    // clock) keeps a host it sees as fresh connected, so its VMs stay not stale through the file.
    t = await createTestApp({ clock: new ManualClock(Date.parse('2026-01-01T00:00:10Z')) });
    const viewer = (await t.userWithRole('viewer')).tokens.token;
    get = (path, headers = {}, method = 'GET') =>
      rawRequest(t.url, method, path, { authorization: `Bearer ${viewer}`, ...headers });
    await t.sql`INSERT INTO hosts (id, hostname, status, last_seen_at)
      VALUES (${HOST}, 'node-a', 'connected', '2026-01-01T00:00:09Z')`;
    for (let i = 1; i <= VMS; i++) {
      const id = `6f1b1a0e-2c4d-4e8f-9a1b-${String(i).padStart(12, '0')}`;
      await t.sql`INSERT INTO vms (id, host_id, name, state, state_reason, vcpus, memory_mib, persistent,
                                   autostart, confirmed_at, updated_at)
        VALUES (${id}, ${HOST}, ${`web-${String(i).padStart(2, '0')}`}, 'running', 'booted', 2, 2048, true,
                true, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`;
    }
  });

  afterAll(async () => {
    await t?.close();
  });

  it('sends the page gzip-encoded, and it gunzips to exactly the plain answer', async () => {
    const plain = await get('/api/v1/vms');
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    expect(plain.body.byteLength).toBeGreaterThanOrEqual(GZIP_MIN_BYTES);
    expect(JSON.parse(plain.body.toString('utf8')).vms).toHaveLength(VMS);

    const gzipped = await get('/api/v1/vms', { 'accept-encoding': 'gzip, deflate, br' });
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers['content-type']).toBe('application/json');
    expect(gzipped.headers.vary).toBe('Accept-Encoding');
    expect(gzipped.headers['x-request-id']).toEqual(expect.any(String));
    expect(Number(gzipped.headers['content-length'])).toBe(gzipped.body.byteLength);
    expect(gzipped.body.byteLength).toBeLessThan(plain.body.byteLength);
    expect(Buffer.compare(gunzipSync(gzipped.body), plain.body)).toBe(0);
  });

  it('sends the same compressed bytes to the next reader of the same page', async () => {
    const first = await get('/api/v1/vms', { 'accept-encoding': 'gzip' });
    const second = await get('/api/v1/vms', { 'accept-encoding': '*' });
    expect(second.headers['content-encoding']).toBe('gzip');
    expect(Buffer.compare(second.body, first.body)).toBe(0);
  });

  it('stays plain when gzip is refused or not offered', async () => {
    for (const acceptEncoding of ['gzip;q=0', 'identity', 'gzip;q=0, *', 'deflate, br']) {
      const res = await get('/api/v1/vms', { 'accept-encoding': acceptEncoding });
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.headers.vary).toBe('Accept-Encoding');
      expect(JSON.parse(res.body.toString('utf8')).vms).toHaveLength(VMS);
    }
  });

  it('sends a small page plain even to a client that accepts gzip', async () => {
    const res = await get('/api/v1/vms?limit=1', { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.body.byteLength).toBeLessThan(GZIP_MIN_BYTES);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers.vary).toBe('Accept-Encoding');
    expect(JSON.parse(res.body.toString('utf8')).vms).toHaveLength(1);
  });

  it('describes a HEAD answer plain', async () => {
    const res = await get('/api/v1/vms', { 'accept-encoding': 'gzip' }, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body.byteLength).toBe(0);
  });

  it('leaves error answers plain JSON', async () => {
    const res = await get('/api/v1/vms?state=flying', { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(res.body.toString('utf8')).error.code).toBe('validation_failed');
  });
});
