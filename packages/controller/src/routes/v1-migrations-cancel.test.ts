import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken } from '../../test/support/agent-test-helpers.ts';
import {
  migrationUntil,
  type ScriptedHost,
  twoHostsWithVm,
} from '../../test/support/migration-test-helpers.ts';
import { RealTimeClock } from '../../test/support/real-time-clock.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

// The cancel of a running libvirt job is in test/migrations.test.ts (with the source's abort).
describe('POST /api/v1/migrations/:id/cancel', () => {
  let t: TestApp;
  let admin: string;
  let operator: string;
  let hosts: { source: ScriptedHost; destination: ScriptedHost; vmId: string };

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    admin = await adminToken(t);
    operator = (await t.userWithRole('operator')).tokens.token;
    hosts = await twoHostsWithVm(t, admin, 'cancel');
  });
  afterAll(async () => {
    hosts?.source.agent.close();
    hosts?.destination.agent.close();
    await t?.close();
  });

  it('records the cancel (202), ends a migration not yet copying as cancelled, audited; a second cancel is 409', async () => {
    const id = (
      await t.request('POST', `/api/v1/vms/${hosts.vmId}/migrate`, {
        token: operator,
        body: { destination_host_id: hosts.destination.hostId },
      })
    ).body.migration_id;
    const res = await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({ id, cancel_requested_at: expect.any(String) });
    const done = await migrationUntil(t, operator, id, 'cancelled', (m) => m.status === 'cancelled');
    expect(done.error?.code).toBe('cancelled');
    const again = await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'migration_finished' });
    expect(again.body.error.message).toContain('cancelled');
    const audit = await t.request('GET', '/api/v1/audit?limit=50', { token: admin });
    expect(
      audit.body.entries.find(
        (e: { action: string; status: number }) =>
          e.action === 'POST /api/v1/migrations/:id/cancel' && e.status === 202,
      ),
    ).toMatchObject({ target: `migration:${id}`, result: 'success' });
  });

  it('answers 404 for an unknown migration', async () => {
    const res = await t.request('POST', `/api/v1/migrations/${randomUUID()}/cancel`, { token: operator });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});
