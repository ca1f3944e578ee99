import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../packages/libvirt/test/harness/index.ts';
import type { AgentProcess } from './support/agent-process.ts';
import { type E2eController, startE2eController } from './support/e2e-controller.ts';
import { createE2eDatabase, type E2eDatabase } from './support/e2e-database.ts';
import { startJoinedAgent } from './support/joined-agent.ts';
import { tempDir } from './support/temp-dir.ts';

// Live migration through REST between two simulated hosts, each its own `cockpit-agent --driver
// simulated` process: the hosts reach each other only through the loopback migration URIs their
// agents report (sim+tcp://127.0.0.1:<port>/<host-uuid>), as the demo's do. The controller, its
// coordinator and both agents are the real ones; only the hypervisor is simulated.

interface Side {
  hostId: string;
  hostname: string;
  agent: AgentProcess;
}
interface Migration {
  id: string;
  status: string;
  progress: { data_processed: number; memory_total: number; elapsed_ms: number } | null;
  error: { code: string; message: string } | null;
}
interface RestVm {
  id: string;
  host_id: string;
  state: string;
  max_memory_mib: number;
}

const FINAL = ['completed', 'failed', 'cancelled'];
const ORDER = ['initiated', 'preparing', 'migrating', ...FINAL];

let db: E2eDatabase;
let ctl: E2eController;
let a: Side;
let b: Side;
const agents: AgentProcess[] = [];

async function side(hostname: string): Promise<Side> {
  const { agent, host } = await startJoinedAgent(ctl, {
    hostname,
    flags: [
      '--driver',
      'simulated',
      '--state-dir',
      join(tempDir('cockpit-e2e-sim-agent-'), 'state'),
      '--sim-vms',
      '6',
      '--sim-seed',
      'e2e-migration',
      // No random changes: the VMs under test change only through the migrations.
      '--sim-change-rate',
      '0',
    ],
    started: agents,
  });
  expect(host.migration_uri).toMatch(/^sim\+tcp:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]{36}$/);
  return { hostId: String(host.id), hostname, agent };
}

const migration = async (id: string) => (await ctl.api<Migration>('GET', `/api/v1/migrations/${id}`)).body;
const restVm = async (id: string) => (await ctl.api<RestVm>('GET', `/api/v1/vms/${id}`)).body;
const vmsOn = async (on: Side) =>
  (await ctl.api<{ vms: RestVm[] }>('GET', `/api/v1/vms?host_id=${on.hostId}&limit=100`)).body.vms;

/** The smallest running VM on `on` (no other migration holds it). */
async function smallestRunning(on: Side): Promise<RestVm> {
  const running = (await vmsOn(on)).filter((v) => v.state === 'running');
  const [vm] = running.sort((x, y) => x.max_memory_mib - y.max_memory_mib);
  if (vm === undefined) throw new Error(`no running VM on ${on.hostname}`);
  return vm;
}

async function migrate(vm: RestVm, to: Side, body: Record<string, unknown> = {}): Promise<string> {
  const res = await ctl.api('POST', `/api/v1/vms/${vm.id}/migrate`, {
    destination_host_id: to.hostId,
    ...body,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body.status).toBe('initiated');
  return res.body.migration_id as string;
}

/** Reads the migration every 25 ms until `accept`; returns every distinct reading on the way. */
async function watch(id: string, accept: (m: Migration) => boolean): Promise<Migration[]> {
  const seen: Migration[] = [];
  await waitFor(
    async () => {
      const m = await migration(id);
      const last = seen.at(-1);
      if (last?.status !== m.status || last?.progress?.data_processed !== m.progress?.data_processed)
        seen.push(m);
      return accept(m) ? m : undefined;
    },
    { what: `migration ${id}`, timeoutMs: 60_000, intervalMs: 25 },
  );
  return seen;
}

beforeAll(async () => {
  db = await createE2eDatabase();
  ctl = await startE2eController(db, tempDir('cockpit-e2e-sim-'));
  a = await side('sim-mig-a.e2e');
  b = await side('sim-mig-b.e2e');
});
afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.kill('SIGTERM')));
  await ctl?.stop();
  await db?.drop();
});

describe('simulated live migration through REST, two agent processes', () => {
  it('completes through initiated, preparing, migrating with growing progress; the VM changes host', async () => {
    const vm = await smallestRunning(a);
    // 512 MiB/s: a few seconds for the smallest demo size (1 GiB and up), several progress reports.
    const id = await migrate(vm, b, { bandwidth_mibps: 512 });
    const seen = await watch(id, (m) => FINAL.includes(m.status));
    const statuses = seen.map((m) => m.status);
    expect(statuses.at(-1), JSON.stringify(seen.at(-1)?.error)).toBe('completed');
    // Never backwards; initiated and preparing may pass between two reads.
    const ranks = statuses.map((s) => ORDER.indexOf(s));
    expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
    const copying = seen.filter((m) => m.status === 'migrating' && m.progress !== null);
    expect(copying.length).toBeGreaterThan(1);
    const processed = copying.map((m) => m.progress?.data_processed ?? 0);
    expect(processed).toEqual([...processed].sort((x, y) => x - y));
    expect(processed.at(-1)).toBeGreaterThan(processed[0] ?? 0);
    expect(copying.every((m) => m.progress?.memory_total === vm.max_memory_mib * 1024 * 1024)).toBe(true);

    const moved = await waitFor(
      async () => {
        const now = await restVm(vm.id);
        return now.host_id === b.hostId && now.state === 'running' ? now : undefined;
      },
      { what: 'the VM running on B', timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(moved.host_id).not.toBe(a.hostId);
    expect((await vmsOn(a)).some((v) => v.id === vm.id)).toBe(false);
  });

  it('a cancel through REST leaves the VM running on the source, and nothing on the destination', async () => {
    const vm = await smallestRunning(a);
    // 1 MiB/s never converges: the migration copies until cancelled.
    const id = await migrate(vm, b, { bandwidth_mibps: 1 });
    await watch(id, (m) => m.status === 'migrating' && (m.progress?.data_processed ?? 0) > 0);
    const cancel = await ctl.api('POST', `/api/v1/migrations/${id}/cancel`, {});
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(202);
    const done = (await watch(id, (m) => FINAL.includes(m.status))).at(-1);
    expect(done?.status, JSON.stringify(done?.error)).toBe('cancelled');
    expect(await restVm(vm.id)).toMatchObject({ host_id: a.hostId, state: 'running' });
    await waitFor(async () => ((await vmsOn(b)).some((v) => v.id === vm.id) ? undefined : true), {
      what: 'no incoming VM left on B',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
  });

  it('the destination agent killed mid-way: the migration fails in libvirt words, the VM runs on the source', async () => {
    const vm = await smallestRunning(a);
    const id = await migrate(vm, b, { bandwidth_mibps: 1 });
    await watch(id, (m) => m.status === 'migrating' && (m.progress?.data_processed ?? 0) > 0);
    await b.agent.kill('SIGKILL');
    const done = (await watch(id, (m) => FINAL.includes(m.status))).at(-1);
    expect(done).toMatchObject({
      status: 'failed',
      error: {
        code: 'OPERATION_FAILED',
        message: "operation failed: job 'migration out' unexpectedly failed",
      },
    });
    expect(await restVm(vm.id)).toMatchObject({ host_id: a.hostId, state: 'running' });
  });
});
