// pnpm bench:metrics — the metrics store at the headline scale (1,000 hosts × 50 VMs sampled every 10 s:
// 5,000 VM samples/s), against PostgreSQL (TEST_DATABASE_URL; a fresh database, dropped afterwards).
//
// 1. Ingest: BENCH_PERIODS (default 6) sampling periods of the whole fleet, each host's batch encoded and
//    decoded as a ConnectRequest (the wire work of the gRPC stream) and handed to MetricIngest, which
//    writes them as the controller does (a transaction of batched INSERTs per flush). Reported: samples/s
//    sustained, its ratio to the 5,000/s the headline needs, the controller's CPU per second of headline
//    load, and the database's share of the wall time. Every VM is held on its host in the tables and
//    the VM cache (loaded before the clock starts), so each flush pays the ownership check as the
//    controller does: one tail read of the change log and a lookup per sample.
// 2. Queries: 24 hours of samples for BENCH_QUERY_VMS VMs (default 50) rolled up like production, then a
//    24-hour series of one VM at each tier (10 s raw, 1 min, 1 h), BENCH_QUERIES times each (default 50):
//    median and p95 latency through the metric service (SQL and shaping, no HTTP).
// 3. Storage per VM-day of each tier, from the partitions' sizes (heap, indexes, TOAST).
import { randomUUID } from 'node:crypto';
import { ConnectRequest, type MetricsBatch, VmSample } from '@cockpit/proto';
import { pino } from 'pino';
import { ManualClock } from '../src/clock.ts';
import { connect } from '../src/database/connect.ts';
import { migrate } from '../src/database/migrate.ts';
import type { Sql } from '../src/database/sql.ts';
import { MetricIngest } from '../src/metrics/metric-ingest.ts';
import { createMetricMaintenance } from '../src/metrics/metric-maintenance.ts';
import { createMetricService } from '../src/metrics/metric-service.ts';
import { VmCache } from '../src/vms/vm-cache.ts';

const HOSTS = Number(process.env.BENCH_HOSTS ?? 1000);
const VMS_PER_HOST = Number(process.env.BENCH_VMS_PER_HOST ?? 50);
const PERIODS = Number(process.env.BENCH_PERIODS ?? 6);
const QUERY_VMS = Number(process.env.BENCH_QUERY_VMS ?? 50);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 50);
const PERIOD_MS = 10_000;
const HEADLINE_PER_S = 5_000;
const DAY = 86_400_000;
const RETENTION = { raw: DAY, '1m': 7 * DAY, '1h': 90 * DAY };
const ALL_FIELDS = (1 << 18) - 8; // bits 3-17: every VM value field present

const sample = (vmId: string, atMs: number, i: number): VmSample =>
  VmSample.fromPartial({
    vmId,
    atMs,
    cpuPercent: (i * 7) % 100,
    memoryUsedBytes: 1_500_000_000 + i,
    memoryAvailableBytes: 2_147_483_648,
    memoryRssBytes: 2_200_000_000,
    diskReadBps: 1_000 * (i % 50),
    diskWriteBps: 2_000 * (i % 30),
    diskReadIops: i % 20,
    diskWriteIops: i % 40,
    netRxBps: 10_000 + i,
    netTxBps: 5_000 + i,
    netRxPps: 100 + (i % 10),
    netTxPps: 80 + (i % 10),
    memoryCurrentBytes: 2_147_483_648,
    memoryUnusedBytes: 600_000_000,
    memoryUsableBytes: 650_000_000,
    vcpus: 2,
    intervalMs: PERIOD_MS,
    presentFields: ALL_FIELDS,
  });

/** Hosts and their VMs in the tables, as the sync ingest would have left them (one statement each). */
async function insertFleet(
  sql: Sql,
  hosts: ReadonlyArray<{ id: string; vms: readonly string[] }>,
): Promise<void> {
  await sql`insert into hosts (id, hostname, status)
    select id, 'bench-' || id, 'connected' from unnest(${hosts.map((h) => h.id)}::uuid[]) as t (id)`;
  const vmIds = hosts.flatMap((h) => h.vms);
  const hostIds = hosts.flatMap((h) => h.vms.map(() => h.id));
  await sql`insert into vms (id, host_id, name, state, vcpus, memory_mib, updated_at)
    select id, host_id, 'vm-' || id, 'running', 2, 2048, now()
    from unnest(${vmIds}::uuid[], ${hostIds}::uuid[]) as t (id, host_id)`;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

async function main(): Promise<void> {
  const server = process.env.TEST_DATABASE_URL;
  if (!server)
    throw new Error(
      'set TEST_DATABASE_URL to a PostgreSQL server (e.g. postgres://postgres@127.0.0.1:5432/test)',
    );
  const name = `cockpit_bench_metrics_${Date.now()}`;
  const admin = connect(server, { max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  const sql = connect(url.toString(), { max: 10 });
  const log = pino({ level: 'warn' });
  try {
    await migrate(sql);
    const nowMs = Date.now();
    const clock = new ManualClock(nowMs);
    const maintenance = createMetricMaintenance({ sql, clock, log, retention: RETENTION });
    await maintenance.runOnce(); // partitions ahead, as at a controller's start

    // The fleet, and the host of the query VMs (part 2), held in the tables and loaded by the VM cache.
    const hosts = Array.from({ length: HOSTS }, () => ({
      id: randomUUID(),
      vms: Array.from({ length: VMS_PER_HOST }, () => randomUUID()),
    }));
    const queryHost = { id: randomUUID(), vms: Array.from({ length: QUERY_VMS }, () => randomUUID()) };
    await insertFleet(sql, [...hosts, queryHost]);
    const cache = new VmCache({ sql, log });
    await cache.catchUp();
    const ingest = new MetricIngest({
      sql,
      clock,
      log,
      retention: RETENTION,
      maxBuffered: 1_000_000,
      owners: cache,
    });

    // 1. Ingest of the fleet.
    const firstSlot = nowMs - (nowMs % PERIOD_MS) - PERIODS * PERIOD_MS;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let samples = 0;
    for (let p = 0; p < PERIODS; p++) {
      const atMs = firstSlot + p * PERIOD_MS;
      for (const [h, host] of hosts.entries()) {
        const batch: MetricsBatch = {
          hosts: [
            {
              atMs,
              cpuPercent: h % 100,
              memoryTotalBytes: 2 ** 37,
              memoryUsedBytes: 2 ** 36,
              memoryAvailableBytes: 2 ** 36,
              intervalMs: PERIOD_MS,
              presentFields: 0b111100,
            },
          ],
          vms: host.vms.map((vmId, i) => sample(vmId, atMs, h + i)),
        };
        // The stream's work: the agent's message as bytes, decoded by the controller.
        const bytes = ConnectRequest.encode({ message: { $case: 'metrics', value: batch } }).finish();
        const decoded = ConnectRequest.decode(bytes).message;
        if (decoded?.$case === 'metrics') ingest.accept(host.id, decoded.value);
        samples += batch.vms.length + batch.hosts.length;
        // Flushes run as they would on the controller's 1 s timer, one at a time.
        if (ingest.pending >= 5_000) void ingest.flush();
        if (h % 50 === 0) await new Promise((r) => setImmediate(r));
      }
    }
    await ingest.flush();
    const wallS = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const vmSamples = HOSTS * VMS_PER_HOST * PERIODS;
    const rate = vmSamples / wallS;
    console.log(
      `ingest: ${HOSTS} hosts × ${VMS_PER_HOST} VMs × ${PERIODS} periods = ${vmSamples} VM samples (+${HOSTS * PERIODS} host samples)`,
    );
    console.log(
      `  wall ${wallS.toFixed(2)} s → ${Math.round(rate)} VM samples/s sustained = ${(rate / HEADLINE_PER_S).toFixed(2)} × the headline's ${HEADLINE_PER_S}/s`,
    );
    console.log(
      `  controller CPU ${cpuS.toFixed(2)} s (${((cpuS / vmSamples) * 1e6).toFixed(1)} µs per sample) → ${((cpuS / vmSamples) * HEADLINE_PER_S * 100).toFixed(1)} % of one core at the headline rate`,
    );
    console.log(
      `  database (write transactions) ${(ingest.stats.databaseMs / 1000).toFixed(2)} s = ${((ingest.stats.databaseMs / 1000 / wallS) * 100).toFixed(0)} % of the wall time; written ${ingest.stats.written} of ${samples}, dropped ${JSON.stringify(ingest.stats.dropped)}`,
    );

    // The ownership check's parts, measured on their own in the same run (timed inside the ingest they
    // would include the producer's work interleaved on the event loop): a flush's catch-up of the VM
    // cache (idle: no changes to apply), and one lookup per sample against the CPU per sample above.
    const catchUpMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await cache.catchUp();
      catchUpMs.push(performance.now() - t0);
    }
    catchUpMs.sort((a, b) => a - b);
    const lookupStarted = performance.now();
    let held = 0;
    for (let p = 0; p < PERIODS; p++) {
      for (const host of hosts) for (const vmId of host.vms) if (cache.hostOf(vmId) === host.id) held += 1;
    }
    const lookupUs = ((performance.now() - lookupStarted) * 1000) / vmSamples;
    console.log(
      `  ownership check: a flush's catch-up of the VM cache, median ${percentile(catchUpMs, 0.5).toFixed(1)} ms (p95 ${percentile(catchUpMs, 0.95).toFixed(1)} ms); ${held} lookups at ${lookupUs.toFixed(2)} µs = ${((lookupUs / ((cpuS / vmSamples) * 1e6)) * 100).toFixed(1)} % of the controller CPU per sample`,
    );

    // 2. A day of samples for QUERY_VMS VMs, rolled up, then 24-hour series at each tier.
    const vmIds = queryHost.vms;
    const dayStart = nowMs - (nowMs % PERIOD_MS) - DAY + PERIOD_MS;
    const fillStarted = performance.now();
    for (let atMs = dayStart; atMs < nowMs; atMs += PERIOD_MS) {
      ingest.accept(queryHost.id, { hosts: [], vms: vmIds.map((id, i) => sample(id, atMs, i)) });
      if (ingest.pending >= 20_000) await ingest.flush();
    }
    await ingest.flush();
    const fillS = (performance.now() - fillStarted) / 1000;
    const rollupStarted = performance.now();
    clock.advance(60_000);
    await maintenance.runOnce();
    const rollupS = (performance.now() - rollupStarted) / 1000;
    const rawRows = (QUERY_VMS * DAY) / PERIOD_MS;
    console.log(
      `query data: ${QUERY_VMS} VMs × 24 h at 10 s = ${rawRows} rows written in ${fillS.toFixed(1)} s; first rollup of the day (1 min and 1 h) ${rollupS.toFixed(1)} s`,
    );
    const metrics = createMetricService({ sql, clock, retention: RETENTION, intervalMs: PERIOD_MS });
    for (const [step, label] of [
      [10_000, '10 s'],
      [60_000, '1 min'],
      [3_600_000, '1 h'],
    ] as const) {
      const times: number[] = [];
      let tier = '';
      let points = 0;
      for (let q = 0; q < QUERIES; q++) {
        const t0 = performance.now();
        const s = await metrics.series({
          subject: 'vm',
          id: vmIds[q % vmIds.length] ?? '',
          fromMs: clock.now().getTime() - DAY,
          toMs: clock.now().getTime(),
          stepMs: step,
          metrics: ['cpu_percent', 'memory_used_bytes', 'net_rx_bps'],
        });
        times.push(performance.now() - t0);
        tier = s.tier;
        points = s.points.length;
      }
      times.sort((a, b) => a - b);
      console.log(
        `24-hour series, step ${label}: tier ${tier}, ${points} points, 3 metrics: median ${percentile(times, 0.5).toFixed(1)} ms, p95 ${percentile(times, 0.95).toFixed(1)} ms (target ≤ 50 ms)`,
      );
    }

    // 3. Storage per VM-day.
    for (const tier of ['raw', '1m', '1h'] as const) {
      const [row] = await sql<{ bytes: string; rows: string }[]>`
        select coalesce(sum(pg_total_relation_size(c.oid)), 0)::text as bytes,
               (select count(*) from ${sql(`metric_vm_${tier}`)})::text as rows
        from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
        where p.relname = ${`metric_vm_${tier}`}`;
      const rowsPerVmDay = tier === 'raw' ? DAY / PERIOD_MS : tier === '1m' ? 1440 : 24;
      const bytesPerRow = Number(row?.bytes) / Math.max(1, Number(row?.rows));
      console.log(
        `storage ${tier}: ${row?.rows} rows in ${(Number(row?.bytes) / 2 ** 20).toFixed(1)} MiB = ${bytesPerRow.toFixed(0)} B/row → ${((bytesPerRow * rowsPerVmDay) / 2 ** 20).toFixed(2)} MiB per VM-day`,
      );
    }
  } finally {
    await sql.end();
    const dropper = connect(server, { max: 1 });
    await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await dropper.end();
  }
}

await main();
