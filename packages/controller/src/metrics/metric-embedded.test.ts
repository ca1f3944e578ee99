import { VM_FIELDS, VmSample } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, hostWithVms } from '../../test/support/agent-test-helpers.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import { ManualClock } from '../clock.ts';

const VM = '6f1b1a0e-2c4d-4e8f-9a1b-000000000001';
const T0 = Date.UTC(2026, 2, 2, 10);

// The zero-setup default: partitions, BRIN, the maintenance's reserved connection and its session lock
// on the embedded PGlite, whose pool holds one connection.
describe('metrics on the embedded database', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ database: 'embedded', clock: new ManualClock(T0 + 2 * 60_000) });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stores, rolls up and answers series as on a server', async () => {
    // The VM held on its host (reported by its agent), whose samples ingest takes as its stream does.
    const { hostId, agent } = await hostWithVms(t, await adminToken(t), 'node-a', [VM]);
    t.services.metricIngest.accept(hostId, {
      hosts: [],
      vms: [0, 1, 2, 3, 4, 5].map((i) =>
        VmSample.fromPartial({
          vmId: VM,
          atMs: T0 + i * 10_000,
          cpuPercent: i,
          presentFields: 1 << VM_FIELDS.cpuPercent,
        }),
      ),
    });
    await t.services.metricIngest.flush();
    await t.services.metricMaintenance.stop();
    expect((await t.services.metricMaintenance.runOnce()).ran).toBe(true);
    const admin = await t.login('admin', 'test-admin-password-0123');
    const from = new Date(T0).toISOString();
    const raw = await t.request(
      'GET',
      `/api/v1/vms/${VM}/metrics?from=${from}&step=10s&metrics=cpu_percent`,
      {
        token: admin.token,
      },
    );
    expect(raw.status).toBe(200);
    expect(raw.body.series[0].points).toHaveLength(6);
    const minute = await t.request(
      'GET',
      `/api/v1/vms/${VM}/metrics?from=${from}&step=1m&metrics=cpu_percent`,
      {
        token: admin.token,
      },
    );
    expect(minute.body.tier).toBe('1m');
    expect(minute.body.series[0].points).toEqual([{ t: from, avg: 2.5, max: 5 }]);
    agent.close();
    // PGlite creates the partitions of a first run slowly (seconds).
  }, 90_000);
});
