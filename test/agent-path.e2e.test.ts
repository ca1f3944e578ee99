import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@cockpit/controller';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeAcpiGuest } from '../packages/agent/test/support/guests.ts';
import {
  guestXml,
  type LibvirtHost,
  startLibvirtHost,
  virsh,
  waitFor,
} from '../packages/libvirt/test/harness/index.ts';
import { AgentProcess } from './support/agent-process.ts';
import { type E2eController, startE2eController } from './support/e2e-controller.ts';
import { createE2eDatabase, type E2eDatabase, killControllerConnections } from './support/e2e-database.ts';
import { controllerFlags } from './support/joined-agent.ts';
import { tempDir } from './support/temp-dir.ts';

// The agent path end to end: a real libvirtd with QEMU guests (a harness host), the controller on a
// fresh PostgreSQL database serving gRPC with its own CA, and the real `cockpit-agent` command joined
// with a join token and pinning that CA. Each step leaves the next its state, so they run in order.

const PREFIX = process.env.LIBVIRT_HOST_NAME_PREFIX ?? 'e2e';
/** The agent's journal bound (its smallest allowed): the overflow step makes more changes than this. */
const JOURNAL_SIZE = 100;

interface RestVm {
  id: string;
  name: string;
  host_id: string;
  state: string;
  stale: boolean;
}

let host: LibvirtHost;
let db: E2eDatabase;
let ctl: E2eController;
let hostId: string;
let agent: AgentProcess;
const agents: AgentProcess[] = [];
const stateDir = join(tempDir('cockpit-e2e-agent-'), 'state');
const guests = new Map<string, string>();

/** `cockpit-agent` flags for the harness host, as the join-token answer writes them (plus test settings). */
function agentArgs(options: { token?: string; stateDir?: string } = {}): string[] {
  return [
    ...controllerFlags(ctl),
    '--libvirt-uri',
    host.uri,
    '--hostname',
    host.name,
    '--state-dir',
    options.stateDir ?? stateDir,
    '--journal-size',
    String(JOURNAL_SIZE),
    '--resync-interval',
    '5',
    ...(options.token === undefined ? [] : ['--join-token', options.token]),
  ];
}

function startAgentProcess(options: { token?: string; stateDir?: string } = {}): AgentProcess {
  const started = AgentProcess.start(agentArgs(options));
  agents.push(started);
  return started;
}

async function joinToken(): Promise<{ token: string; agent_command: string; ca_sha256: string }> {
  const res = await ctl.api('POST', '/api/v1/hosts/join-tokens', {});
  expect(res.status).toBe(201);
  return res.body;
}

async function defineGuest(name: string, uuid: string = randomUUID()): Promise<string> {
  const file = join(host.stateDir, `${name}.xml`);
  await writeFile(file, guestXml({ name, uuid }));
  await virsh(host.uri, 'define', file);
  guests.set(name, uuid);
  return uuid;
}

const VIRSH_STATES: Record<string, string> = { running: 'running', paused: 'paused', 'shut off': 'shut_off' };

/** What libvirt says: every domain of the host, name → state in the API's spelling (one `virsh list`). */
async function virshStates(): Promise<Record<string, string>> {
  const states: Record<string, string> = {};
  for (const line of (await virsh(host.uri, 'list', '--all')).split('\n')) {
    const match = /^\s*(\S+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (match?.[2] === undefined || match[3] === undefined) continue;
    states[match[2]] = VIRSH_STATES[match[3]] ?? match[3];
  }
  return sorted(states);
}

/** Defines many guests in one virsh call (`define a; define b; …`). */
async function defineGuests(names: string[]): Promise<void> {
  const commands: string[] = [];
  for (const name of names) {
    const uuid = randomUUID();
    const file = join(host.stateDir, `${name}.xml`);
    await writeFile(file, guestXml({ name, uuid }));
    guests.set(name, uuid);
    commands.push(`define ${file}`);
  }
  await virsh(host.uri, commands.join('; '));
}

/** What the controller says about the host's VMs, name → state. */
async function restStates(): Promise<Record<string, string>> {
  const res = await ctl.api<{ vms: RestVm[] }>('GET', `/api/v1/vms?host_id=${hostId}&limit=1000`);
  return Object.fromEntries(res.body.vms.map((v) => [v.name, v.state]));
}

const hostStatus = async () => (await ctl.api('GET', `/api/v1/hosts/${hostId}`)).body?.status as string;

async function restVm(id: string): Promise<RestVm> {
  return (await ctl.api<RestVm>('GET', `/api/v1/vms/${id}`)).body;
}

async function expectRestEqualsVirsh(what: string): Promise<void> {
  const wanted = await waitFor(
    async () => {
      const [fromVirsh, fromRest] = [await virshStates(), await restStates()];
      return JSON.stringify(fromVirsh) === JSON.stringify(sorted(fromRest)) ? fromVirsh : undefined;
    },
    { what, timeoutMs: 60_000, intervalMs: 250 },
  ).catch(async (err: unknown) => {
    throw new Error(
      `${what}: virsh ${JSON.stringify(await virshStates())} vs REST ${JSON.stringify(await restStates())}`,
      { cause: err },
    );
  });
  expect(Object.keys(wanted).length).toBeGreaterThan(0);
}

const sorted = (o: Record<string, string>) =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

/** A power action through REST, waiting for its outcome in the same call. */
async function act(
  vmId: string,
  body: { action: string; force?: boolean; timeout_s?: number; force_after_timeout?: boolean },
) {
  const res = await ctl.api('POST', `/api/v1/vms/${vmId}/action?wait=60`, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { status: string; error: unknown; kind: string };
}

const domstate = async (name: string) => (await virsh(host.uri, 'domstate', name)).trim();
const until = (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) =>
  waitFor(async () => ((await check()) ? true : undefined), { what, timeoutMs, intervalMs: 100 });

beforeAll(async () => {
  [host, db] = await Promise.all([
    startLibvirtHost({ name: `${PREFIX}-${randomBytes(3).toString('hex')}` }),
    createE2eDatabase(),
  ]);
  ctl = await startE2eController(db, tempDir('cockpit-e2e-'));
});

// A failed step shows what the agents said (their JSON log lines) to tell why.
afterEach((ctx) => {
  if (ctx.task.result?.state !== 'fail') return;
  for (const a of agents) {
    process.stderr.write(`--- cockpit-agent ${a.child.pid} (${a.running ? 'running' : 'exited'})\n`);
    process.stderr.write(`${a.stdout.split('\n').slice(-15).join('\n')}\n${a.stderr.slice(-2000)}\n`);
  }
});

afterAll(async () => {
  await Promise.allSettled(agents.map((a) => a.kill()));
  await ctl?.stop();
  await host?.stop();
  await db?.drop();
});

describe('the agent path, from libvirt to REST and back', () => {
  it('joins the real agent with a join token over TLS (CA pinned by fingerprint)', async () => {
    const { token, agent_command, ca_sha256 } = await joinToken();
    expect(agent_command).toBe(
      `cockpit-agent --controller 127.0.0.1:${ctl.grpcPort} --ca-sha256 ${ca_sha256} --join-token ${token}`,
    );
    agent = startAgentProcess({ token });
    const joined = await waitFor(
      async () => {
        const hosts = (await ctl.api('GET', '/api/v1/hosts')).body.hosts as Array<Record<string, unknown>>;
        return hosts.find((h) => h.hostname === host.name && h.status === 'connected');
      },
      { what: 'the host connected', timeoutMs: 60_000, stopIf: () => !agent.running },
    );
    hostId = String(joined.id);
    expect(joined).toMatchObject({ driver: 'libvirt', libvirt_version: expect.stringMatching(/^\d+\.\d+/) });
    expect(String(joined.hypervisor)).toContain('QEMU');
    expect(joined.host_uuid).toBe(host.hostUuid);
  });

  it('shows a domain defined through libvirt in GET /api/v1/vms', async () => {
    // A UUID of no RFC 9562 version or variant, as a domain set in its XML may carry (VMware's, say):
    // libvirt takes any 128 bits, so the API must too (by id, in actions, in metrics).
    const id = await defineGuest('g1', '564D3C2B-77A1-12F4-0A6B-0C29D1E2F3A4');
    const seen = await waitFor(
      async () => {
        const vm = await restVm(id);
        return vm?.state === 'shut_off' ? vm : undefined;
      },
      { what: 'g1 in the API' },
    );
    expect(seen).toMatchObject({ name: 'g1', host_id: hostId, stale: false });
  });

  it('changes the real guest with each power action through REST', async () => {
    const id = guests.get('g1') ?? '';
    const steps: Array<[{ action: string; force?: boolean }, string, string]> = [
      [{ action: 'start' }, 'running', 'running'],
      [{ action: 'pause' }, 'paused', 'paused'],
      [{ action: 'resume' }, 'running', 'running'],
      [{ action: 'restart', force: true }, 'running', 'running'],
      [{ action: 'stop', force: true }, 'shut off', 'shut_off'],
      [{ action: 'start' }, 'running', 'running'],
    ];
    for (const [body, virshState, apiState] of steps) {
      const operation = await act(id, body);
      expect(operation.status, `${JSON.stringify(body)}: ${JSON.stringify(operation.error)}`).toBe(
        'succeeded',
      );
      await until(
        `${JSON.stringify(body)} → virsh ${virshState}`,
        async () => (await domstate('g1')) === virshState,
      );
      await until(
        `${JSON.stringify(body)} → REST ${apiState}`,
        async () => (await restVm(id)).state === apiState,
      );
    }
    // A graceful stop waits for the guest to power off, a graceful restart for it to reboot. This
    // diskless guest has no ACPI: it keeps running, and each fails when its timeout runs out.
    for (const [action, kind, code] of [
      ['stop', 'vm.stop', 'shutdown_timeout'],
      ['restart', 'vm.restart', 'reboot_timeout'],
    ] as const) {
      const graceful = await act(id, { action, timeout_s: 2 });
      expect(graceful).toMatchObject({ kind, status: 'failed', error: { code } });
      expect(await domstate('g1')).toBe('running');
    }
    // Unless told to force it then: the restart resets the guest once its timeout ran out.
    const forced = await act(id, { action: 'restart', timeout_s: 1, force_after_timeout: true });
    expect(forced).toMatchObject({ kind: 'vm.restart', status: 'succeeded', error: null });
    expect(await domstate('g1')).toBe('running');
  });

  it('a graceful restart and stop through REST succeed once the guest rebooted, and powered off', async () => {
    // A guest that powers off about a second after its ACPI power button, as an OS does.
    const { uuid: id, xmlFile, serialFile: serial } = await writeAcpiGuest(host.stateDir, 'g-acpi');
    await virsh(host.uri, 'define', xmlFile);
    await until('g-acpi in the API', async () => (await restVm(id)).state === 'shut_off');
    expect(await act(id, { action: 'start' })).toMatchObject({ status: 'succeeded' });
    // A press before the guest is ready is lost, as with an OS still booting.
    await until('g-acpi ready for its power button', async () =>
      (await readFile(serial, 'latin1').catch(() => '')).includes('R'),
    );
    await until('g-acpi running in the API', async () => (await restVm(id)).state === 'running');

    const restarted = await act(id, { action: 'restart' });
    expect(restarted).toMatchObject({ kind: 'vm.restart', status: 'succeeded', error: null });
    await until('g-acpi booted again', async () => (await readFile(serial, 'latin1')) === 'RR');

    const stopped = await act(id, { action: 'stop' });
    expect(stopped).toMatchObject({ kind: 'vm.stop', status: 'succeeded', error: null });
    expect((await virsh(host.uri, 'domstate', 'g-acpi', '--reason')).trim()).toBe('shut off (shutdown)');
    await until('g-acpi shut off in the API', async () => (await restVm(id)).state === 'shut_off');
    await virsh(host.uri, 'undefine', 'g-acpi');
  });

  it('samples the running guest: its CPU time moves and the REST series shows non-zero CPU', async () => {
    const id = guests.get('g1') ?? '';
    type Series = {
      tier: string;
      series: Array<{ unit: string; points: Array<{ avg: number; max: number }> }>;
    };
    const series = await waitFor(
      async () => {
        const from = new Date(Date.now() - 120_000).toISOString();
        const res = await ctl.api<Series>(
          'GET',
          `/api/v1/vms/${id}/metrics?from=${from}&step=2s&metrics=cpu_percent`,
        );
        return res.body.series?.[0]?.points.some((p) => p.avg > 0) === true ? res.body : undefined;
      },
      {
        what: 'a sample of g1 with CPU above 0 in GET /api/v1/vms/:id/metrics',
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
    expect(series.tier).toBe('raw');
    expect(series.series[0]?.unit).toBe('percent');
    for (const p of series.series[0]?.points ?? []) {
      expect(p.avg).toBeGreaterThanOrEqual(0);
      expect(p.max).toBeLessThanOrEqual(100);
    }
  });

  it('shows a change made with virsh through REST', async () => {
    const id = guests.get('g1') ?? '';
    await virsh(host.uri, 'suspend', 'g1');
    await until('virsh suspend → REST paused', async () => (await restVm(id)).state === 'paused');
    await virsh(host.uri, 'resume', 'g1');
    await until('virsh resume → REST running', async () => (await restVm(id)).state === 'running');
    await expectRestEqualsVirsh('REST equals virsh');
  });

  it('kill -9 of the agent: disconnected within the deadline; restarted, it resyncs to exactly what virsh says', async () => {
    const before = (await ctl.api('GET', `/api/v1/hosts/${hostId}`)).body.sync_cursor as number;
    const killedAt = Date.now();
    await agent.kill('SIGKILL');
    await until('disconnected', async () => (await hostStatus()) === 'disconnected', 10_000);
    expect(Date.now() - killedAt).toBeLessThan(6_000);
    expect((await restVm(guests.get('g1') ?? '')).stale).toBe(true);

    // Changes while no agent watches: a guest stopped, one defined, one defined and removed.
    await virsh(host.uri, 'destroy', 'g1');
    await defineGuest('g2');
    await defineGuest('g-gone');
    await virsh(host.uri, 'undefine', 'g-gone');

    agent = startAgentProcess();
    await until('connected again', async () => (await hostStatus()) === 'connected', 60_000);
    await expectRestEqualsVirsh('after the agent restart');
    const after = (await ctl.api('GET', `/api/v1/hosts/${hostId}`)).body.sync_cursor as number;
    expect(after).toBeGreaterThan(before);
  });

  it('restarted controller: the agent comes back on its own; a journal overflowed meanwhile resyncs by snapshot, deletions too', async () => {
    await ctl.stop();
    await until('the agent noticed', async () => agent.logged('disconnected from the controller').length > 0);
    // More changes than the journal holds (JOURNAL_SIZE), g2's removal among them.
    await virsh(host.uri, 'undefine', 'g2');
    const churn = Array.from({ length: JOURNAL_SIZE + 10 }, (_, i) => `churn-${i}`);
    await defineGuests(churn);
    await virsh(
      host.uri,
      churn
        .filter((_, i) => i % 2 === 1)
        .map((name) => `undefine ${name}`)
        .join('; '),
    );

    await ctl.start();
    await until(
      'connected after the controller restart',
      async () => (await hostStatus()) === 'connected',
      90_000,
    );
    await expectRestEqualsVirsh('after the overflow');
    expect((await restStates()).g2).toBeUndefined();
    const sessions = agent.logged('connected to the controller');
    expect(sessions.at(-1)?.start).toBe('snapshot');
  }, 180_000);

  it('recovers when its PostgreSQL connections are killed under it', async () => {
    const killed = await killControllerConnections(db);
    expect(killed).toBeGreaterThan(0);
    await until('REST answers again', async () => (await ctl.api('GET', '/api/v1/hosts')).status === 200);
    const id = guests.get('g1') ?? '';
    const operation = await waitFor(
      async () => {
        const res = await ctl.api('POST', `/api/v1/vms/${id}/action?wait=60`, { action: 'start' });
        return res.status === 200 ? res.body : undefined;
      },
      { what: 'a start after the connections died', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(operation.status).toBe('succeeded');
    await until('g1 running', async () => (await domstate('g1')) === 'running');
    await virsh(host.uri, 'suspend', 'g1');
    await expectRestEqualsVirsh('after the connections died');
  });

  it('ran no command twice', async () => {
    const ran = agents.flatMap((a) => a.ranCommandIds());
    expect(ran.length).toBeGreaterThanOrEqual(9);
    expect(new Set(ran).size).toBe(ran.length);
    const sql = connect(db.url, { max: 1 });
    try {
      const open = await sql`select id, status from commands where status in ('pending', 'sent', 'running')`;
      expect(open).toEqual([]);
      const operations = await sql<{ kind: string; status: string; error_code: string | null }[]>`
        select kind, status, error_code from operations order by id`;
      // Every one succeeded but the graceful stop and restart of the guest without ACPI, which ran out
      // of time.
      expect(operations.filter((o) => o.status !== 'succeeded')).toEqual([
        { kind: 'vm.stop', status: 'failed', error_code: 'shutdown_timeout' },
        { kind: 'vm.restart', status: 'failed', error_code: 'reboot_timeout' },
      ]);
      expect(operations.length).toBeGreaterThanOrEqual(9);
    } finally {
      await sql.end();
    }
  });
});

describe('tokens and credentials that must not register or feed a host', () => {
  const hostCount = async () => ((await ctl.api('GET', '/api/v1/hosts')).body.hosts as unknown[]).length;
  const freshDir = () => join(tempDir('cockpit-e2e-bad-'), 'state');

  it('a wrong, a reused and an expired join token end the agent (exit 1) without a host', async () => {
    const count = await hostCount();
    const wrong = startAgentProcess({ token: 'cjt_wrong', stateDir: freshDir() });
    expect((await wrong.exited).code).toBe(1);

    const { token } = await joinToken();
    const first = startAgentProcess({ token, stateDir: freshDir() });
    // The first redemption of this token is refused for the hostname (already registered): still spent.
    expect((await first.exited).code).toBe(1);
    const reused = startAgentProcess({ token, stateDir: freshDir() });
    expect((await reused.exited).code).toBe(1);

    const expiring = await joinToken();
    const sql = connect(db.url, { max: 1 });
    await sql`update join_tokens set expires_at = now() - interval '1 second' where used_at is null`;
    await sql.end();
    const expired = startAgentProcess({ token: expiring.token, stateDir: freshDir() });
    expect((await expired.exited).code).toBe(1);
    expect(await hostCount()).toBe(count);
  });

  it('a revoked host: DELETE stops its agent (exit 1) and its credential never feeds the host again', async () => {
    const res = await ctl.api('DELETE', `/api/v1/hosts/${hostId}`);
    expect(res.status).toBe(204);
    expect((await agent.exited).code).toBe(1);
    expect(agent.logged('the controller revoked this host: not reconnecting')).toHaveLength(1);
    const again = startAgentProcess();
    expect((await again.exited).code).toBe(2);
    expect((await ctl.api('GET', `/api/v1/hosts/${hostId}`)).status).toBe(404);
    expect((await ctl.api('GET', `/api/v1/vms?host_id=${hostId}`)).body.vms).toEqual([]);
  });
});
