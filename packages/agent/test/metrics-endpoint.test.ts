import { createServer, type Server } from 'node:net';
import { VmState } from '@cockpit/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_METRICS_CONFIG, isMetricsEndpointError } from '../src/index.ts';
import { AgentProcess } from './support/agent-process.ts';
import { waitFor } from './support/harness.ts';
import { promtoolCheck } from './support/promtool.ts';
import { ScriptedController } from './support/scripted-controller.ts';
import { startTestAgent, type TestAgent, tempStateDir, testDriver } from './support/test-agent.ts';

// The agent's own /metrics on a real HTTP listener: Prometheus text that promtool accepts, the static
// bearer token, what it refuses; and the cockpit-agent command serving it.

const TOKEN = 'scrape-me-if-you-can-1234';

let controller: ScriptedController;
const agents: TestAgent[] = [];
const processes: AgentProcess[] = [];
const servers: Server[] = [];
beforeEach(async () => {
  controller = await ScriptedController.start();
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.agent.close()));
  await Promise.all(processes.splice(0).map((p) => p.kill()));
  for (const s of servers.splice(0)) s.close();
  await controller.stop();
});

async function agentServing(token?: string): Promise<TestAgent> {
  const a = await startTestAgent(controller.address, {
    driver: testDriver({ vmCount: 6 }),
    config: {
      joinToken: 'tok',
      metrics: { ...DEFAULT_METRICS_CONFIG, listen: { host: '127.0.0.1', port: 0 }, token },
    },
  });
  agents.push(a);
  return a;
}

const scrape = (url: string, init: RequestInit = {}) => fetch(url, init);
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** A port something else listens on. */
async function busyPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe("the agent's /metrics", () => {
  it('serves health and the newest samples as Prometheus text that promtool accepts', async () => {
    const sessions = controller.nextSession();
    const { agent, driver } = await agentServing(TOKEN);
    const url = agent.metricsUrl ?? '';
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const session = await sessions;
    await session.welcome({ metricsIntervalMs: 1_000 });
    const running = (await driver.listVms()).filter((v) => v.state === VmState.VM_STATE_RUNNING);
    // Rates appear from the second period on.
    const text = await waitFor(
      async () => {
        const body = await (await scrape(url, bearer(TOKEN))).text();
        const rated = running.every((vm) => body.includes(`cockpit_vm_cpu_usage_ratio{vm_id="${vm.id}"`));
        return rated ? body : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'a CPU gauge for every running VM' },
    );

    const check = await promtoolCheck(text);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
    expect(text).toContain('cockpit_agent_connected 1\n');
    expect(text).toContain('cockpit_agent_libvirt_up 1\n');
    expect(text).toContain('cockpit_agent_metrics_period_seconds 1\n');
    expect(text).toMatch(/^cockpit_agent_journal_head \d+$/m);
    expect(text).toMatch(/^cockpit_host_cpu_usage_ratio 0\.\d+/m);
    expect(text).toContain(
      'cockpit_agent_info{version="0.1.0",driver="simulated",hostname="vapor-node-01.corp.awan.io",host_id="h-1"} 1',
    );
    for (const vm of running) expect(text).toContain(`vm_name="${vm.name}"`);

    const response = await scrape(url, bearer(TOKEN));
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('with a token: 401 without it or with another; 405 for other methods, 404 elsewhere', async () => {
    const { agent } = await agentServing(TOKEN);
    const url = agent.metricsUrl ?? '';
    const missing = await scrape(url);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="cockpit-agent"');
    expect((await scrape(url, bearer(`${TOKEN}x`))).status).toBe(401);
    expect((await scrape(url, { headers: { authorization: TOKEN } })).status).toBe(401);
    const post = await scrape(url, { method: 'POST', ...bearer(TOKEN) });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await scrape(url.replace('/metrics', '/debug'), bearer(TOKEN))).status).toBe(404);
    expect((await scrape(url, bearer(TOKEN))).status).toBe(200);
  });

  it('without a token it answers anyone, like other exporters', async () => {
    const { agent } = await agentServing();
    expect((await scrape(agent.metricsUrl ?? '')).status).toBe(200);
  });

  it('an address it cannot take: the agent does not start, and says why', async () => {
    const port = await busyPort();
    const failed = startTestAgent(controller.address, {
      config: {
        joinToken: 'tok',
        metrics: { ...DEFAULT_METRICS_CONFIG, listen: { host: '127.0.0.1', port } },
      },
    });
    const err = await failed.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isMetricsEndpointError(err)).toBe(true);
    expect((err as Error).message).toContain(`cannot listen on 127.0.0.1:${port} for /metrics`);
  });

  it('the default address taken (a second agent on the machine): no /metrics, a warning, the agent runs', async () => {
    const port = await busyPort();
    const sessions = controller.nextSession();
    const a = await startTestAgent(controller.address, {
      config: {
        joinToken: 'tok',
        metrics: { ...DEFAULT_METRICS_CONFIG, listen: { host: '127.0.0.1', port }, listenIsDefault: true },
      },
    });
    agents.push(a);
    expect(a.agent.metricsUrl).toBeUndefined();
    expect(
      a.log.lines.find((l) => String(l.msg).startsWith('the default /metrics address is taken')),
    ).toBeDefined();
    const session = await sessions;
    await session.welcome({ metricsIntervalMs: 1_000 });
    await session.until(() => session.hostSamples().length > 0);
  });
});

describe('cockpit-agent serving /metrics', () => {
  const args = async (extra: string[]) => [
    '--controller',
    controller.address,
    '--insecure-plaintext',
    '--driver',
    'simulated',
    '--state-dir',
    await tempStateDir(),
    '--join-token',
    'tok',
    ...extra,
  ];

  it('logs where it serves; promtool accepts what it serves', async () => {
    const p = AgentProcess.start(await args(['--metrics-token', TOKEN]));
    processes.push(p);
    const line = await waitFor(() => p.logged('serving Prometheus metrics')[0], {
      timeoutMs: 20_000,
      what: 'the "serving Prometheus metrics" log line',
      stopIf: () => p.child.exitCode !== null,
    });
    expect(line).toMatchObject({ tokenRequired: true });
    expect(JSON.stringify(p.stdout)).not.toContain(TOKEN);
    const body = await (await scrape(String(line?.url), bearer(TOKEN))).text();
    const check = await promtoolCheck(body);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
  });

  it('a port in use: exit 1 with one clear line', async () => {
    const port = await busyPort();
    const p = AgentProcess.start(await args(['--metrics-listen', `127.0.0.1:${port}`]));
    processes.push(p);
    expect((await p.exited).code).toBe(1);
    expect(p.stderr.trim()).toMatch(
      new RegExp(`^cockpit-agent: cannot listen on 127\\.0\\.0\\.1:${port} for /metrics: listen EADDRINUSE`),
    );
  });
});
