import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BOOTSTRAP_START,
  childrenOf,
  commandLine,
  isAlive,
  killRunning,
  type Run,
  runMain,
  waitFor,
} from '../../test/support/controller-process.ts';
import { tempDir } from '../../test/support/temp-dir.ts';
import { DEMO_VMS_PER_HOST, demoDialAddress, demoHostname } from './demo-agents.ts';
import { demoBanner } from './demo-banner.ts';

const execFileAsync = promisify(execFile);

const HOSTNAMES = ['vapor-node-01.corp.awan.io', 'vapor-node-02.corp.awan.io'];

interface HostRow {
  id: string;
  hostname: string;
  status: string;
}
interface VmRow {
  id: string;
  host_id: string;
  state: string;
}
interface MigrationRow {
  vm_id: string;
  status: string;
  source_host_id: string;
  destination_host_id: string;
}

/** A REST client of the controller a run printed the URL of, logged in as admin. */
async function apiOf(run: Run, password: string) {
  // The banner and the log line with the URL reach the output apart, in either order (a full-suite
  // run at 14:30 UTC on 2026-12-04 read the banner first and fetched a relative URL).
  const urlLine = /"url":"(http:[^"]+)"/;
  await waitFor('the controller URL in its log', () => urlLine.test(run.output()));
  const url = urlLine.exec(run.output())?.[1] ?? '';
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  expect(login.status).toBe(200);
  const { token } = (await login.json()) as { token: string };
  return async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };
}

/** Polls until both demo hosts are connected with all their VMs; returns the hosts. */
async function demoFleet(
  api: Awaited<ReturnType<typeof apiOf>>,
): Promise<{ hosts: HostRow[]; vms: VmRow[] }> {
  let fleet = { hosts: [] as HostRow[], vms: [] as VmRow[] };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { hosts } = await api<{ hosts: HostRow[] }>('/api/v1/hosts');
    const { vms } = await api<{ vms: VmRow[] }>('/api/v1/vms?limit=100');
    fleet = { hosts, vms };
    const ready =
      hosts.length === 2 &&
      hosts.every(
        (h) => h.status === 'connected' && vms.filter((v) => v.host_id === h.id).length === DEMO_VMS_PER_HOST,
      );
    if (ready) return fleet;
    if (Date.now() > deadline) {
      throw new Error(`the two demo hosts did not connect with their VMs: ${JSON.stringify(fleet.hosts)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The controller process under `pnpm start`, and the demo agents under it (Linux /proc). */
function processTree(run: Run): { controller: number; agents: number[] } {
  const [controller = 0, ...others] = childrenOf(run.child.pid ?? 0);
  expect(others).toEqual([]);
  return { controller, agents: childrenOf(controller) };
}

describe('demo agents (pnpm start)', { timeout: 300_000 }, () => {
  afterEach(killRunning);

  it('starts two simulated agents whose hosts and VMs show through REST, the printed curl lines work (a live migration among them), and SIGTERM stops every process with exit 0; a second start brings back the same hosts', async () => {
    const dataDir = tempDir('cockpit-demo-');
    const env = { COCKPIT_DATA_DIR: dataDir, COCKPIT_HTTP_PORT: '0', COCKPIT_GRPC_PORT: '0' };
    // As the README's first command runs it: no COCKPIT_DEMO_AGENTS, so the bootstrap asks for two.
    const first = runMain(env, [], { command: BOOTSTRAP_START });
    await waitFor('the demo banner', () => first.output().includes('COCKPIT_DEMO_AGENTS=0 starts none'));
    const password = /the first user "admin" with this password:\s+(\S+)/.exec(first.output())?.[1] ?? '';
    const api = await apiOf(first, password);
    const fleet = await demoFleet(api);
    expect(fleet.hosts.map((h) => h.hostname).sort()).toEqual(HOSTNAMES);

    // No user made the demo's join tokens: the audit log names the controller and why.
    const audit = await api<{
      entries: Array<{ actor_username: string | null; action: string; target: string }>;
    }>('/api/v1/audit?limit=100');
    const tokens = audit.entries.filter((e) => e.actor_username === 'cockpit (COCKPIT_DEMO_AGENTS)');
    expect(tokens.map((e) => e.action)).toEqual(['create join token', 'create join token']);
    expect(tokens.every((e) => e.target.startsWith('join_token:'))).toBe(true);

    const tree = processTree(first);
    expect(tree.agents).toHaveLength(2);
    for (const pid of tree.agents) {
      const argv = commandLine(pid).join(' ');
      expect(argv).toContain('cockpit-agent.mjs');
      expect(argv).toContain('--driver simulated');
      expect(argv).not.toContain('cjt_'); // the join token travels in the environment
    }

    // The banner's lines, pasted into a shell: log in, hosts, VMs, a forced stop waited for.
    const banner = first.output();
    const lines = banner.slice(
      banner.indexOf('try, in another terminal:') + 'try, in another terminal:'.length,
      banner.indexOf(' The agents keep their credentials'),
    );
    // Asynchronously: the migration lines take seconds, and a blocked event loop would leave the REST
    // client with connections the server has closed meanwhile.
    const { stdout: pasted } = await execFileAsync('bash', ['-euo', 'pipefail', '-c', lines], {
      encoding: 'utf8',
      timeout: 90_000,
    });
    for (const hostname of HOSTNAMES) expect(pasted).toContain(hostname);
    expect(pasted).toContain('"kind":"vm.force_stop","status":"succeeded"');
    const stopped = /"vm_id":"([0-9a-f-]+)"/.exec(pasted.slice(pasted.indexOf('vm.force_stop')))?.[1];
    const deadline = Date.now() + 10_000;
    let state = '';
    while (state !== 'shut_off' && Date.now() < deadline) {
      state = (await api<VmRow>(`/api/v1/vms/${stopped}`)).state;
      if (state !== 'shut_off') await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe('shut_off');

    // The migration lines: followed until it ended, completed, with progress on the way; the VM now
    // shows on the other host.
    expect(pasted.trimEnd().split('\n').at(-1)).toMatch(/^completed: \d+ MiB sent, 0 MiB to go$/);
    expect(pasted).toMatch(/^migrating: \d+ MiB sent, \d+ MiB to go$/m);
    const { migrations } = await api<{ migrations: MigrationRow[] }>('/api/v1/migrations');
    expect(migrations).toHaveLength(1);
    const [migration] = migrations;
    expect(migration).toMatchObject({ status: 'completed', source_host_id: fleet.hosts[0]?.id });
    expect(migration?.vm_id).not.toBe(stopped);
    expect((await api<VmRow>(`/api/v1/vms/${migration?.vm_id}`)).host_id).toBe(
      migration?.destination_host_id,
    );
    expect(migration?.destination_host_id).toBe(fleet.hosts[1]?.id);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    for (const hostname of HOSTNAMES) {
      expect(first.output()).toMatch(
        new RegExp(
          `"hostname":"${hostname.replaceAll('.', '\\.')}","pid":\\d+,"code":0,"signal":null,"msg":"demo agent stopped"`,
        ),
      );
    }
    for (const pid of [tree.controller, ...tree.agents]) expect(isAlive(pid)).toBe(false);
    expect(first.output()).not.toContain('demo agent exited');

    // Again, stopped with Ctrl-C (SIGINT to the whole foreground group): the agents' credentials are
    // in the data folder, so the same two hosts reconnect and nothing joins.
    const second = runMain(env, [], { command: BOOTSTRAP_START, detached: true });
    await waitFor('the second demo banner', () =>
      second.output().includes('COCKPIT_DEMO_AGENTS=0 starts none'),
    );
    expect(second.output()).not.toContain('with this password');
    expect(second.output()).toContain(`PASSWORD=$(cat '${join(dataDir, 'initial-admin-password')}')`);
    const again = await demoFleet(await apiOf(second, password));
    expect(again.hosts.map((h) => h.id).sort()).toEqual(fleet.hosts.map((h) => h.id).sort());
    expect(second.output()).not.toContain('host joined');
    const secondTree = processTree(second);
    process.kill(-(second.child.pid ?? 0), 'SIGINT');
    expect(await second.exited).toBe(0);
    expect(second.output().match(/"code":0,"signal":null,"msg":"demo agent stopped"/g)).toHaveLength(2);
    for (const pid of [secondTree.controller, ...secondTree.agents]) expect(isAlive(pid)).toBe(false);
  });

  it('the agents stop by themselves when the controller is killed with SIGKILL: no orphans', async () => {
    const env = {
      COCKPIT_DATA_DIR: tempDir('cockpit-demo-kill-'),
      COCKPIT_HTTP_PORT: '0',
      COCKPIT_GRPC_PORT: '0',
      COCKPIT_DEMO_AGENTS: '2',
    };
    const run = runMain(env);
    await waitFor(
      'both demo agents to connect',
      () => run.output().match(/"msg":"snapshot applied"/g)?.length === 2,
    );
    const agents = childrenOf(run.child.pid ?? 0);
    expect(agents).toHaveLength(2);
    run.child.kill('SIGKILL');
    await run.exited;
    await waitFor(
      'the demo agents to exit after their controller was killed',
      () => agents.every((pid) => !isAlive(pid)),
      15_000,
    );
  });
});

describe('demo helpers', () => {
  it('names hosts like the seed and dials localhost instead of 127.0.0.1', () => {
    expect(demoHostname(0)).toBe('vapor-node-01.corp.awan.io');
    expect(demoHostname(9)).toBe('vapor-node-10.corp.awan.io');
    expect(demoDialAddress('127.0.0.1:9443')).toBe('localhost:9443');
    expect(demoDialAddress('ctl.example:9443')).toBe('ctl.example:9443');
  });

  it('the README shows the banner as it is printed', () => {
    const readme = readFileSync(join(import.meta.dirname, '../../../../README.md'), 'utf8');
    const rule = '================================================================';
    const start = readme.indexOf(`${rule}\n Demo:`);
    const shown = readme.slice(start, readme.indexOf(`${rule}\n\`\`\``, start + rule.length) + rule.length);
    const printed = demoBanner({
      url: 'http://127.0.0.1:8080',
      hostnames: HOSTNAMES,
      password: { kind: 'file', file: '/home/you/cockpit/.cockpit/initial-admin-password' },
    });
    expect(printed).toContain(shown);
    expect(shown).toContain('/migrate');
  });

  it('tells where the admin password is without printing it again', () => {
    const base = { url: 'http://127.0.0.1:8080', hostnames: HOSTNAMES };
    expect(demoBanner({ ...base, password: { kind: 'file', file: '/d/initial-admin-password' } })).toContain(
      "PASSWORD=$(cat '/d/initial-admin-password')",
    );
    expect(demoBanner({ ...base, password: { kind: 'configured' } })).toContain(
      'COCKPIT_ADMIN_PASSWORD you set',
    );
    expect(demoBanner({ ...base, password: { kind: 'chosen' } })).toContain('the password you gave admin');
  });
});
