import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { VM_FIELDS, VmSample } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually, hostWithVms } from '../../test/support/agent-test-helpers.ts';
import type { ScriptedAgent } from '../../test/support/scripted-agent.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

const VM = '6f1b1a0e-2c4d-4e8f-9a1b-000000000001';
const TOKEN = 'scrape-token-0123456789abcdef';

/** `promtool check metrics` (Debian's prometheus package) on an exposition: its exit code and output. */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe('the controller’s /metrics', () => {
  let t: TestApp;
  let host: string;
  let agent: ScriptedAgent;
  beforeAll(async () => {
    t = await createTestApp();
    // A connected agent holding the VM sends its sample, as the sampler does.
    ({ hostId: host, agent } = await hostWithVms(t, await adminToken(t), 'node-a', [VM]));
    const nowMs = t.clock.now().getTime();
    await agent.metrics({
      vms: [
        VmSample.fromPartial({
          vmId: VM,
          atMs: nowMs - (nowMs % 10_000),
          cpuPercent: 25,
          memoryRssBytes: 1_048_576,
          presentFields: (1 << VM_FIELDS.cpuPercent) | (1 << VM_FIELDS.memoryRssBytes),
        }),
      ],
    });
    await eventually(
      'the sample written',
      async () => t.services.metricIngest.stats.written,
      (n) => n === 1,
    );
  });
  afterAll(async () => {
    agent?.close();
    await t?.close();
  });

  it('answers without a token on the API’s listener, in a format promtool accepts', async () => {
    const admin = await t.login('admin', 'test-admin-password-0123');
    await t.request('GET', '/api/v1/hosts', { token: admin.token });
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const check = await promtoolCheck(text);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
    expect(text).toMatch(
      /^cockpit_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/hosts",status="200"\} 1$/m,
    );
    expect(text).toMatch(/^cockpit_hosts\{status="connected"\} 1$/m);
    expect(text).toMatch(/^cockpit_operations\{status="running"\} 0$/m);
    expect(text).toMatch(/^cockpit_commands\{status="expired"\} 0$/m);
    expect(text).toMatch(/^cockpit_migrations\{status="migrating"\} 0$/m);
    expect(text).toMatch(/^cockpit_hosts\{status="maintenance"\} 0$/m);
    expect(text).toMatch(/^cockpit_agents_connected 1$/m);
    // The newest sample of each VM streaming here, as gauges in base units.
    expect(text).toContain(`cockpit_vm_cpu_usage_ratio{vm_id="${VM}",host_id="${host}"} 0.25`);
    expect(text).toContain(`cockpit_vm_memory_rss_bytes{vm_id="${VM}",host_id="${host}"} 1048576`);
    // A value the sample does not hold is left out, not shown as 0.
    expect(text).not.toContain(`cockpit_vm_network_receive_bytes_per_second{vm_id="${VM}"`);
    expect(text).toMatch(/^cockpit_metric_samples_received_total 1$/m);
    // The process's own figures, under the client libraries' names; the RSS is the kernel's.
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    const status = await readFile('/proc/self/status', 'utf8');
    const kernelRss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) * 1024;
    // Same process (the test app runs in this one): within 20 % of the kernel's figure read just after.
    expect(Math.abs(value('process_resident_memory_bytes') - kernelRss) / kernelRss).toBeLessThan(0.2);
    expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(value('nodejs_heap_size_used_bytes')).toBeLessThanOrEqual(value('nodejs_heap_size_total_bytes'));
    expect(value('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value('nodejs_eventloop_delay_max_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('labels requests no route answered as unmatched, not by their path', async () => {
    await fetch(`${t.url}/no/such/path/${Math.random()}`);
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(text).toMatch(
      /cockpit_http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} 1/,
    );
    expect(text).not.toContain('/no/such/path');
  });
});

describe('/metrics with a token, on its own address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { COCKPIT_METRICS_LISTEN: '127.0.0.1:0', COCKPIT_METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers only with the bearer token, and only on its own address', async () => {
    const url = t.metricsUrl ?? '';
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(url.startsWith(t.url)).toBe(false);
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="cockpit-metrics"');
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(
      401,
    );
    const scraped = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('# TYPE cockpit_agents_connected gauge');
    expect((await fetch(`${t.url}/metrics`)).status).toBe(404);
  });
});
