import { describe, expect, it } from 'vitest';
import { promtoolCheck } from '../../test/support/promtool.ts';
import { type AgentMetricsView, renderAgentMetrics } from './agent-exposition.ts';
import type { VmCounters } from './counters.ts';
import { RateTracker } from './rate-tracker.ts';

const GIB = 1024 ** 3;

function view(): AgentMetricsView {
  const tracker = new RateTracker();
  const vm = (cpuTimeNs: number, instance: number, id: string, name: string): VmCounters => ({
    id,
    name,
    instance,
    vcpus: 2,
    cpuTimeNs,
    memoryCurrentBytes: 2 * GIB,
    memoryRssBytes: GIB,
    memoryAvailableBytes: 2 * GIB,
    memoryUnusedBytes: GIB / 2,
    disks: [{ name: 'vda', readBytes: cpuTimeNs, writeBytes: 0, readRequests: 0, writeRequests: 0 }],
    nets: [],
  });
  const host = {
    cpuBusyNs: 0,
    cpuTotalNs: 0,
    memoryTotalBytes: 8 * GIB,
    memoryUsedBytes: 2 * GIB,
    memoryAvailableBytes: 6 * GIB,
  };
  tracker.sample(
    { readAtMs: 0, host, vms: [vm(0, 1, 'a', 'web-01'), vm(0, 1, 'b', 'db "primary"\\1\n')] },
    10_000,
    30_000,
  );
  // b restarted: its rates are left out, its levels stay.
  const { host: h, vms } = tracker.sample(
    {
      readAtMs: 10_000,
      host: { ...host, cpuBusyNs: 5e9, cpuTotalNs: 20e9 },
      vms: [vm(10e9, 1, 'a', 'web-01'), vm(1e9, 2, 'b', 'db "primary"\\1\n')],
    },
    20_000,
    30_000,
  );
  return {
    info: { version: '0.1.0', driver: 'libvirt', hostname: 'node-01', hostId: 'h-1' },
    connected: true,
    reconnects: 2,
    disconnects: new Map([
      ['unreachable', 2],
      ['heartbeat_deadline', 1],
    ]),
    journal: { entries: 12, head: 40_012, floor: 40_000 },
    commands: { running: 1, succeeded: 10, failed: 2 },
    samples: { buffered: 3, dropped: 0, sent: 120 },
    sampling: { periodMs: 10_000, readings: 12, failures: 1, skipped: 0, lastDurationMs: 4.2 },
    libvirtUp: true,
    latest: { host: h, vms, names: ['web-01', 'db "primary"\\1\n'] },
  };
}

describe('the agent /metrics exposition', () => {
  it('passes promtool check metrics', async () => {
    const { code, output } = await promtoolCheck(renderAgentMetrics(view()));
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('shows health, host gauges, and per-VM gauges only where the last sample has a value', () => {
    const text = renderAgentMetrics(view());
    expect(text).toContain('cockpit_agent_connected 1\n');
    expect(text).toContain('cockpit_agent_disconnects_total{reason="unreachable"} 2\n');
    expect(text).toContain('cockpit_agent_commands{status="failed"} 2\n');
    expect(text).toContain('cockpit_host_cpu_usage_ratio 0.25\n');
    expect(text).toContain('cockpit_host_memory_used_bytes 2147483648\n');
    expect(text).toContain('cockpit_vm_cpu_usage_ratio{vm_id="a",vm_name="web-01"} 0.5\n');
    expect(text).toContain('cockpit_vm_memory_used_bytes{vm_id="a",vm_name="web-01"} 1610612736\n');
    // The restarted VM: levels, no rates (never a 0 pretending to be measured).
    expect(text).toContain(
      'cockpit_vm_memory_rss_bytes{vm_id="b",vm_name="db \\"primary\\"\\\\1\\n"} 1073741824\n',
    );
    expect(text).not.toMatch(/cockpit_vm_cpu_usage_ratio\{vm_id="b"/);
    expect(text).not.toMatch(/cockpit_vm_disk_read_bytes_per_second\{vm_id="b"/);
    // The agent process's own figures, under the client libraries' names.
    expect(text).toMatch(/^process_resident_memory_bytes [1-9]\d*$/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes [1-9]\d*$/m);
    expect(text).toMatch(/^nodejs_eventloop_delay_max_seconds \S+$/m);
  });
});
