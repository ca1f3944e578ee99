import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken } from '../../test/support/agent-test-helpers.ts';
import {
  migrationUntil,
  performStarts,
  prepareOn,
  type ScriptedHost,
  twoHostsWithVm,
} from '../../test/support/migration-test-helpers.ts';
import { RealTimeClock } from '../../test/support/real-time-clock.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

// The switch to post-copy itself (the command to the source) is in test/migrations.test.ts.
describe('POST /api/v1/migrations/:id/force-complete', () => {
  let t: TestApp;
  let operator: string;
  let hosts: { source: ScriptedHost; destination: ScriptedHost; vmId: string };

  beforeAll(async () => {
    t = await createTestApp({ clock: new RealTimeClock() });
    const admin = await adminToken(t);
    operator = (await t.userWithRole('operator')).tokens.token;
    hosts = await twoHostsWithVm(t, admin, 'force');
  });
  afterAll(async () => {
    hosts?.source.agent.close();
    hosts?.destination.agent.close();
    await t?.close();
  });

  const force = (id: string) =>
    t.request('POST', `/api/v1/migrations/${id}/force-complete`, { token: operator });

  it('is 409 force_complete_not_allowed before it migrates, after a cancel, and when it is over; saying why', async () => {
    const id = (
      await t.request('POST', `/api/v1/vms/${hosts.vmId}/migrate`, {
        token: operator,
        body: { destination_host_id: hosts.destination.hostId, allow_post_copy: true },
      })
    ).body.migration_id;
    const early = await force(id);
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('force_complete_not_allowed');
    await prepareOn(hosts.destination);
    await performStarts(hosts.source);
    await migrationUntil(t, operator, id, 'migrating', (m) => m.status === 'migrating');
    await t.request('POST', `/api/v1/migrations/${id}/cancel`, { token: operator });
    const afterCancel = await force(id);
    expect(afterCancel.status).toBe(409);
    expect(afterCancel.body.error.message).toContain('cancel');
  });

  it('answers 404 for an unknown migration', async () => {
    const res = await force(randomUUID());
    expect(res.status).toBe(404);
  });
});
