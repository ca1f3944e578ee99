import {
  HOST_SAMPLE_GAUGES,
  hostValue,
  PrometheusText,
  renderProcessMetrics,
  VM_SAMPLE_GAUGES,
  vmValue,
} from '@cockpit/proto';
import { COMMAND_STATUSES } from '../commands/command-schema.ts';
import type { Services } from '../create-services.ts';
import { HOST_STATUSES } from '../hosts/host-schema.ts';
import { MIGRATION_STATUSES } from '../migrations/migration-schema.ts';
import { OPERATION_STATUSES } from '../operations/operation-schema.ts';

/**
 * The controller's /metrics, built at each scrape: the HTTP API's answer times, the agents (connected
 * here and by status in the database, how far each stream's applied cursor is behind its agent's
 * journal), operations, commands and migrations by status, metric ingest, and the newest sample of every host and
 * VM streaming to this replica (each replica shows its own agents: scrape them all).
 */
export async function renderControllerMetrics(services: Services): Promise<string> {
  const { sql, agents, metricIngest, clock } = services;
  const t = new PrometheusText();
  services.requestDurations.render(t);
  renderProcessMetrics(t);

  const counts = await sql<{ what: string; status: string; n: number }[]>`
    select 'hosts' as what, status, count(*)::int as n from hosts group by status
    union all select 'operations', status, count(*)::int from operations group by status
    union all select 'commands', status, count(*)::int from commands group by status
    union all select 'migrations', status, count(*)::int from migrations group by status`;
  const count = (what: string, status: string) =>
    counts.find((c) => c.what === what && c.status === status)?.n ?? 0;

  t.family('cockpit_agents_connected', 'gauge', 'Agent streams held by this controller replica.');
  t.sample('cockpit_agents_connected', agents.size);
  t.family('cockpit_hosts', 'gauge', 'Hosts by status (all replicas).');
  for (const status of HOST_STATUSES) t.sample('cockpit_hosts', count('hosts', status), { status });
  t.family('cockpit_operations', 'gauge', 'Operations by status (all replicas).');
  for (const status of OPERATION_STATUSES)
    t.sample('cockpit_operations', count('operations', status), { status });
  t.family('cockpit_commands', 'gauge', 'Commands to agents by status (all replicas).');
  for (const status of COMMAND_STATUSES) t.sample('cockpit_commands', count('commands', status), { status });
  t.family('cockpit_migrations', 'gauge', 'Live migrations by status (all replicas).');
  for (const status of MIGRATION_STATUSES)
    t.sample('cockpit_migrations', count('migrations', status), { status });

  const streams = agents.streams();
  t.family(
    'cockpit_host_sync_lag_entries',
    'gauge',
    'Journal entries the agent holds that the controller has not applied yet (streams on this replica).',
  );
  for (const s of streams) {
    t.sample('cockpit_host_sync_lag_entries', Math.max(0, s.journalHead - s.appliedCursor), {
      host_id: s.hostId,
    });
  }
  t.family('cockpit_host_last_message_age_seconds', 'gauge', 'Time since the agent last sent anything.');
  for (const s of streams)
    t.sample('cockpit_host_last_message_age_seconds', s.silentMs / 1000, { host_id: s.hostId });

  const { stats } = metricIngest;
  t.family('cockpit_metric_samples_received_total', 'counter', 'Metric samples taken off agent streams.');
  t.sample('cockpit_metric_samples_received_total', stats.received);
  t.family('cockpit_metric_samples_written_total', 'counter', 'Metric samples written to the database.');
  t.sample('cockpit_metric_samples_written_total', stats.written);
  t.family('cockpit_metric_samples_dropped_total', 'counter', 'Metric samples not kept, by reason.');
  for (const [reason, n] of Object.entries(stats.dropped)) {
    t.sample('cockpit_metric_samples_dropped_total', n, { reason: snake(reason) });
  }
  t.family('cockpit_metric_samples_pending', 'gauge', 'Metric samples waiting to be written.');
  t.sample('cockpit_metric_samples_pending', metricIngest.pending);

  const nowMs = clock.now().getTime();
  const hosts = metricIngest.latest.currentHosts(nowMs);
  for (const [name, field, scale, help] of HOST_SAMPLE_GAUGES) {
    t.family(name, 'gauge', help);
    for (const { hostId, sample } of hosts) {
      const v = hostValue(sample, field);
      if (v !== undefined) t.sample(name, v * scale, { host_id: hostId });
    }
  }
  const vms = metricIngest.latest.currentVms(nowMs);
  for (const [name, field, scale, help] of VM_SAMPLE_GAUGES) {
    t.family(name, 'gauge', help);
    for (const { hostId, sample } of vms) {
      const v = vmValue(sample, field);
      if (v !== undefined) t.sample(name, v * scale, { vm_id: sample.vmId, host_id: hostId });
    }
  }
  return t.text();
}

const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
