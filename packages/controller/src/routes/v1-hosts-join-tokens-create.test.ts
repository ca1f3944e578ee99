import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken } from '../../test/support/agent-test-helpers.ts';
import { RealTimeClock } from '../../test/support/real-time-clock.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

describe('POST /api/v1/hosts/join-tokens', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    admin = await adminToken(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a join token with the CA fingerprint (openssl’s form) and a ready cockpit-agent line', async () => {
    const res = await t.request('POST', '/api/v1/hosts/join-tokens', {
      token: admin,
      body: { ttl_seconds: 600 },
    });
    expect(res.status).toBe(201);
    expect(res.body.ca_sha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(res.body.ca_sha256).toBe(t.grpc.caFingerprint);
    expect(res.body.controller_address).toBe(t.grpc.address);
    expect(res.body.agent_command).toBe(
      `cockpit-agent --controller ${t.grpc.address} --ca-sha256 ${res.body.ca_sha256} --join-token ${res.body.token}`,
    );
    const ttl = Date.parse(res.body.expires_at) - t.clock.now().getTime();
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  it('refuses a TTL over one hour, and non-admins', async () => {
    const long = await t.request('POST', '/api/v1/hosts/join-tokens', {
      token: admin,
      body: { ttl_seconds: 3601 },
    });
    expect(long.status).toBe(400);
    expect(long.body.error.details[0].path).toBe('body.ttl_seconds');
    const operator = (await t.userWithRole('operator')).tokens.token;
    expect((await t.request('POST', '/api/v1/hosts/join-tokens', { token: operator, body: {} })).status).toBe(
      403,
    );
    expect((await t.request('POST', '/api/v1/hosts/join-tokens', { body: {} })).status).toBe(401);
  });
});
