import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postFrom } from '../../test/support/auth-test-helpers.ts';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';
import { DEFAULT_THROTTLE_POLICY } from '../auth/login-throttle.ts';
import { parseTrustedProxies, trustedProxyMatcher } from './trusted-proxies.ts';

describe('trusted proxy entries', () => {
  it('accepts IPv4/IPv6 addresses and CIDR ranges and names every bad entry', () => {
    expect(parseTrustedProxies(' 10.0.0.1, 10.1.0.0/16,,fd00::/8 ')).toEqual({
      entries: ['10.0.0.1', '10.1.0.0/16', 'fd00::/8'],
      invalid: [],
    });
    expect(parseTrustedProxies('10.0.0.1, proxy.local, 10.0.0.0/33, 10.0.0.0/8/1, ::1/x').invalid).toEqual([
      'proxy.local',
      '10.0.0.0/33',
      '10.0.0.0/8/1',
      '::1/x',
    ]);
  });

  it('matches addresses inside the ranges, including IPv4 peers seen as IPv4-mapped IPv6', () => {
    const trusted = trustedProxyMatcher(['10.1.0.0/16', '192.0.2.7', 'fd00::/8']);
    expect(trusted('10.1.200.3')).toBe(true);
    expect(trusted('::ffff:10.1.0.9')).toBe(true);
    expect(trusted('10.2.0.1')).toBe(false);
    expect(trusted('192.0.2.7')).toBe(true);
    expect(trusted('192.0.2.8')).toBe(false);
    expect(trusted('fd12::1')).toBe(true);
    expect(trusted('2001:db8::1')).toBe(false);
    expect(trusted('not-an-address')).toBe(false);
    expect(trustedProxyMatcher([])('10.1.0.1')).toBe(false);
  });
});

describe('client address behind COCKPIT_TRUSTED_PROXIES, over HTTP', () => {
  const PROXY = '127.0.0.21';
  let t: TestApp;
  let adminToken: string;
  beforeAll(async () => {
    t = await createTestApp({ env: { COCKPIT_TRUSTED_PROXIES: `${PROXY}, 127.0.1.0/24` } });
    adminToken = (await t.login('admin', TEST_ADMIN_PASSWORD)).token;
  });
  afterAll(async () => {
    await t.close();
  });

  // A failed login from `from` with the given X-Forwarded-For; returns the address its audit row recorded.
  const recordedAddress = async (from: string, forwardedFor: string | undefined, requestId: string) => {
    const headers: Record<string, string> = { 'x-request-id': requestId };
    if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
    const res = await postFrom(t, from, '/api/v1/auth/login', { username: 'nobody', password: 'x' }, headers);
    expect(res.status).toBe(401);
    const audit = await t.request('GET', '/api/v1/audit?limit=100', { token: adminToken });
    const row = (audit.body.entries as Array<{ request_id: string; client_address: string }>).find(
      (e) => e.request_id === requestId,
    );
    return row?.client_address;
  };

  it('takes the rightmost address that is not a trusted proxy, and never what the client wrote left of it', async () => {
    expect(await recordedAddress(PROXY, '203.0.113.9', 'xff-1')).toBe('203.0.113.9');
    expect(await recordedAddress(PROXY, '6.6.6.6, 203.0.113.9', 'xff-2')).toBe('203.0.113.9');
    expect(await recordedAddress(PROXY, '6.6.6.6, 203.0.113.7, 127.0.1.5', 'xff-3')).toBe('203.0.113.7');
    expect(await recordedAddress(PROXY, 'garbage, 127.0.1.5', 'xff-4')).toBe('127.0.1.5');
    expect(await recordedAddress(PROXY, undefined, 'xff-5')).toBe(PROXY);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    expect(await recordedAddress('127.0.0.22', '203.0.113.9', 'xff-6')).toBe('127.0.0.22');
  });

  it('throttles the forwarded client, not the proxy every user shares', async () => {
    const login = (client: string, password: string) =>
      postFrom(
        t,
        PROXY,
        '/api/v1/auth/login',
        { username: 'admin', password },
        { 'x-forwarded-for': client },
      );
    for (let i = 0; i < DEFAULT_THROTTLE_POLICY.pair.free; i += 1) {
      expect((await login('198.51.100.1', `guess-${i}`)).status).toBe(401);
    }
    const blocked = await login('198.51.100.1', TEST_ADMIN_PASSWORD);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await login('198.51.100.2', TEST_ADMIN_PASSWORD)).status).toBe(200);
  });
});
