import {
  HOST_SAMPLE_GAUGES,
  type HostSample,
  hostValue,
  PrometheusText,
  renderProcessMetrics,
  VM_SAMPLE_GAUGES,
  vmValue,
} from '@cockpit/proto';
import type { LatestSamples } from './sampler.ts';

/** Everything the agent's /metrics shows, gathered at the moment of the scrape. */
export interface AgentMetricsView {
  info: { version: string; driver: string; hostname: string; hostId: string };
  connected: boolean;
  /** Sessions welcomed after the first one. */
  reconnects: number;
  /** Sessions ended, by reason (the `reason` of the "disconnected from the controller" log line). */
  disconnects: ReadonlyMap<string, number>;
  journal: { entries: number; head: number; floor: number };
  /** Commands in the at-most-once record, by status. */
  commands: { running: number; succeeded: number; failed: number };
  samples: { buffered: number; dropped: number; sent: number };
  /** Undefined: the driver samples nothing. */
  sampling?: {
    periodMs: number;
    readings: number;
    failures: number;
    skipped: number;
    lastDurationMs: number;
  };
  /** Undefined: the driver cannot tell. */
  libvirtUp?: boolean;
  latest: LatestSamples;
}

/**
 * The agent's /metrics: its own health, then the newest host and VM samples as gauges (a value the last
 * sample does not have — a rate right after a restart — is left out rather than shown as 0). Prometheus
 * conventions: base units, CPU as a 0-1 ratio, counters end in _total.
 */
export function renderAgentMetrics(view: AgentMetricsView): string {
  const t = new PrometheusText();
  const { info } = view;
  t.family('cockpit_agent_info', 'gauge', 'The agent: version, driver, host name and host id (value 1).');
  t.sample('cockpit_agent_info', 1, {
    version: info.version,
    driver: info.driver,
    hostname: info.hostname,
    host_id: info.hostId,
  });
  t.family('cockpit_agent_connected', 'gauge', '1 while a session with the controller is up.');
  t.sample('cockpit_agent_connected', view.connected ? 1 : 0);
  t.family('cockpit_agent_reconnects_total', 'counter', 'Sessions with the controller after the first.');
  t.sample('cockpit_agent_reconnects_total', view.reconnects);
  t.family(
    'cockpit_agent_disconnects_total',
    'counter',
    'Sessions with the controller that ended or could not start, by reason.',
  );
  for (const [reason, n] of view.disconnects) t.sample('cockpit_agent_disconnects_total', n, { reason });
  t.family('cockpit_agent_journal_entries', 'gauge', 'State changes kept in the journal for replay.');
  t.sample('cockpit_agent_journal_entries', view.journal.entries);
  t.family('cockpit_agent_journal_head', 'gauge', 'Newest journal cursor.');
  t.sample('cockpit_agent_journal_head', view.journal.head);
  t.family('cockpit_agent_journal_floor', 'gauge', 'Journal floor: changes after it can be replayed.');
  t.sample('cockpit_agent_journal_floor', view.journal.floor);
  t.family(
    'cockpit_agent_commands',
    'gauge',
    'Commands in the at-most-once record (last 10,000, 7 days), by status.',
  );
  for (const status of ['running', 'succeeded', 'failed'] as const) {
    t.sample('cockpit_agent_commands', view.commands[status], { status });
  }
  if (view.libvirtUp !== undefined) {
    t.family('cockpit_agent_libvirt_up', 'gauge', '1 while the driver is connected to its hypervisor.');
    t.sample('cockpit_agent_libvirt_up', view.libvirtUp ? 1 : 0);
  }
  t.family(
    'cockpit_agent_metrics_samples_buffered',
    'gauge',
    'Samples waiting to be sent to the controller.',
  );
  t.sample('cockpit_agent_metrics_samples_buffered', view.samples.buffered);
  t.family('cockpit_agent_metrics_samples_dropped_total', 'counter', 'Samples dropped by the buffer bounds.');
  t.sample('cockpit_agent_metrics_samples_dropped_total', view.samples.dropped);
  t.family(
    'cockpit_agent_metrics_samples_sent_total',
    'counter',
    'Samples written to the controller stream.',
  );
  t.sample('cockpit_agent_metrics_samples_sent_total', view.samples.sent);
  const sampling = view.sampling;
  if (sampling !== undefined) {
    t.family('cockpit_agent_metrics_period_seconds', 'gauge', 'Sampling period in use.');
    t.sample('cockpit_agent_metrics_period_seconds', sampling.periodMs / 1000);
    t.family('cockpit_agent_metrics_readings_total', 'counter', 'Readings of the hypervisor counters.');
    t.sample('cockpit_agent_metrics_readings_total', sampling.readings);
    t.family('cockpit_agent_metrics_reading_failures_total', 'counter', 'Readings that failed.');
    t.sample('cockpit_agent_metrics_reading_failures_total', sampling.failures);
    t.family(
      'cockpit_agent_metrics_slots_skipped_total',
      'counter',
      'Sampling slots missed (a reading or the event loop was late).',
    );
    t.sample('cockpit_agent_metrics_slots_skipped_total', sampling.skipped);
    t.family('cockpit_agent_metrics_reading_duration_seconds', 'gauge', 'How long the last reading took.');
    t.sample('cockpit_agent_metrics_reading_duration_seconds', sampling.lastDurationMs / 1000);
  }
  // The agent process's own memory, CPU and event loop, under the client libraries' names.
  renderProcessMetrics(t);
  hostGauges(t, view.latest.host);
  vmGauges(t, view.latest);
  return t.text();
}

function hostGauges(t: PrometheusText, host: HostSample | undefined): void {
  if (host === undefined) return;
  t.family(
    'cockpit_host_sample_timestamp_seconds',
    'gauge',
    'Sampling slot of the host and VM gauges below.',
  );
  t.sample('cockpit_host_sample_timestamp_seconds', host.atMs / 1000);
  for (const [name, field, scale, help] of HOST_SAMPLE_GAUGES) {
    const value = hostValue(host, field);
    if (value === undefined) continue;
    t.family(name, 'gauge', help);
    t.sample(name, value * scale);
  }
}

function vmGauges(t: PrometheusText, latest: LatestSamples): void {
  if (latest.vms.length === 0) return;
  const labels = latest.vms.map((vm, i) => ({ vm_id: vm.vmId, vm_name: latest.names[i] ?? '' }));
  t.family('cockpit_vm_vcpus', 'gauge', 'vCPUs of the VM.');
  for (const [i, vm] of latest.vms.entries()) t.sample('cockpit_vm_vcpus', vm.vcpus, labels[i]);
  for (const [name, field, scale, help] of VM_SAMPLE_GAUGES) {
    let announced = false;
    for (const [i, vm] of latest.vms.entries()) {
      const value = vmValue(vm, field);
      if (value === undefined) continue;
      if (!announced) t.family(name, 'gauge', help);
      announced = true;
      t.sample(name, value * scale, labels[i]);
    }
  }
}
