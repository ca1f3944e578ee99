// pnpm bench:sync — many agents against one controller and one PostgreSQL, in one run (issue 8's
// targets): a change visible through REST while 500 changes/s flow, changes ingested per second, a full
// resync of every VM after a controller restart, the controller's RSS, and GET /api/v1/vms?limit=100
// under 100 concurrent clients (plain, and asking for gzip); each next to a baseline of the same run
// (the raw upsert of the same rows, the plain SELECT of the same page, the same page's bytes from a
// bare node:http server).
//
// The controller runs as production runs it (dist/main.js, TLS on its gRPC port, request logs at info
// to a file) in a child process; this process holds the agents: in-process scripted agents speaking the
// real protocol over real gRPC (bench/support/bench-agent.ts: Hello, heartbeats, numbered batches,
// snapshots, acks; no journal or driver), one TLS connection each. During the latency probes the
// probe hosts' agents run in the probes' own process instead (support/visibility-probe.ts). Database:
// TEST_DATABASE_URL (a fresh database on that server, dropped afterwards).
//
// Usage: pnpm bench:sync [--agents 1000] [--vms 50]; knobs BENCH_SECONDS (per load phase, default 10),
// BENCH_PROBES (latency probes, default 300), BENCH_CLIENTS (default 100).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type Vm, VmState } from '@cockpit/proto';
import { connect } from '../src/database/connect.ts';
import { listVms } from '../src/vms/vm-queries.ts';
import { type ControllerTarget, join as joinHost, vm } from '../test/support/scripted-agent.ts';
import { BenchAgent } from './support/bench-agent.ts';
import { controllerLoopDelay, controllerMemory } from './support/controller-memory.ts';
import { ControllerProcess, freePort, procCpuSeconds } from './support/controller-process.ts';
import { VisibilityProber } from './support/visibility-prober.ts';

const packageDir = join(import.meta.dirname, '..');
const ADMIN_PASSWORD = 'bench-admin-password-1';

const { values: args } = parseArgs({
  options: { agents: { type: 'string', default: '1000' }, vms: { type: 'string', default: '50' } },
});
const AGENTS = Number(args.agents);
const VMS = Number(args.vms);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PROBES = Number(process.env.BENCH_PROBES ?? 300);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const BACKGROUND_RATE = 500;
/** Hosts whose agents run in the probes' own process during the latency phase. */
const PROBE_HOSTS = 10;
const LIST_PACED_RATE = Number(process.env.BENCH_LIST_RATE ?? 200);

interface Host {
  hostname: string;
  hostId: string;
  credential: string;
  vms: Vm[];
  agent?: BenchAgent;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
};
const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
const pct = (share: number) => `${Math.round(share * 100)} %`;
const cpuSeconds = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;
const mib = (bytes: number) => bytes / 1024 / 1024;
/** Now on the monotonic clock in µs: the clock of the timestamps in a `--cpu-prof` profile. */
const monotonicUs = () => process.hrtime.bigint() / 1000n;
/** Phase windows, printed when the controller is profiled, to cut its profile by phase. */
const windows: string[] = [];
async function timed<T>(phase: string, fn: () => Promise<T>): Promise<T> {
  const from = monotonicUs();
  try {
    return await fn();
  } finally {
    windows.push(`${phase} ${from}-${monotonicUs()}`);
  }
}

/** Runs `fn` over `items`, `concurrency` at a time. */
async function each<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

/** The VM record with one field changed, as a hypervisor change would: the balloon moved. */
function changed(record: Vm, memoryMib: number): Vm {
  return { ...record, memoryMib };
}

async function main(): Promise<void> {
  const server = process.env.TEST_DATABASE_URL;
  if (!server) {
    process.stderr.write('bench:sync needs a PostgreSQL server: set TEST_DATABASE_URL (postgres://…/test)\n');
    process.exit(2);
  }
  execFileSync(process.execPath, [join(packageDir, '../../scripts/build.mjs'), '--if-stale'], {
    stdio: 'inherit',
  });
  const name = `cockpit_bench_sync_${Date.now()}`;
  const admin = connect(server, { max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const url = new URL(server);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'cockpit-bench-sync-'));
  // Kept after the run (the data folder is not): what the controller said under load.
  const logFile = join(tmpdir(), `${name}.log`);
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const env = {
    COCKPIT_DATABASE_URL: url.toString(),
    COCKPIT_DATA_DIR: dataDir,
    COCKPIT_HTTP_PORT: String(httpPort),
    COCKPIT_GRPC_PORT: String(grpcPort),
    COCKPIT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    COCKPIT_JWT_SECRET: randomBytes(32).toString('hex'),
    // Node/V8 flags for the controller only (e.g. heap sizes), to measure their effect on RSS and rates.
    ...(process.env.BENCH_CONTROLLER_NODE_OPTIONS
      ? { NODE_OPTIONS: process.env.BENCH_CONTROLLER_NODE_OPTIONS }
      : {}),
    // More environment for the controller only, "NAME=value NAME=value" (e.g. MALLOC_ARENA_MAX=2).
    ...Object.fromEntries(
      (process.env.BENCH_CONTROLLER_ENV ?? '')
        .split(' ')
        .filter((pair) => pair.includes('='))
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    ),
  };
  const api = `http://127.0.0.1:${httpPort}`;
  const db = connect(url.toString(), { max: 10 });
  let controller = await ControllerProcess.start(env, logFile);
  // Whatever ends this process, the controller it started goes with it.
  process.on('exit', () => controller.child.kill('SIGKILL'));
  let maxRss = 0;
  /** The controller's RSS maximum so far, after each phase: where the memory goes. */
  const rssByPhase: string[] = [];
  /** Where the memory was at the end of each phase (MiB, from the controller's /metrics). */
  const memoryByPhase: string[] = [];
  const hosts: Host[] = [];
  try {
    const target: ControllerTarget = {
      address: `localhost:${grpcPort}`,
      caPem: readFileSync(join(dataDir, 'grpc-tls/ca.pem'), 'utf8'),
    };
    const token = await login(api);
    const auth = { authorization: `Bearer ${token}` };
    console.log(`bench:sync: ${AGENTS} agents × ${VMS} VMs = ${AGENTS * VMS} VMs; PostgreSQL ${name}`);

    // Join every host (REST join token, gRPC Join), connect, send its first snapshot.
    let t0 = performance.now();
    await each(
      Array.from({ length: AGENTS }, (_, i) => i),
      16,
      async (i) => {
        const hostname = `bench-${String(i + 1).padStart(4, '0')}.corp.awan.io`;
        const res = await fetch(`${api}/api/v1/hosts/join-tokens`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: '{}',
        });
        if (res.status !== 201) throw new Error(`join token: ${res.status} ${await res.text()}`);
        const joined = await joinHost(target, ((await res.json()) as { token: string }).token, hostname);
        const vms = Array.from({ length: VMS }, (_, v) =>
          vm(
            randomUUID(),
            `vm-${String(v + 1).padStart(2, '0')}`,
            v % 4 === 3 ? VmState.VM_STATE_SHUT_OFF : VmState.VM_STATE_RUNNING,
            {
              memoryMib: 2048,
              maxMemoryMib: 4096,
              vcpus: 2,
            },
          ),
        );
        hosts[i] = { hostname, hostId: joined.hostId, credential: joined.credential, vms };
      },
    );
    console.log(`  joined ${AGENTS} hosts in ${fmt((performance.now() - t0) / 1000)} s`);
    t0 = performance.now();
    await connectAndSnapshot(hosts, target);
    const firstSync = (performance.now() - t0) / 1000;
    console.log(`  connected and applied the first snapshots (${AGENTS * VMS} VMs) in ${fmt(firstSync)} s`);

    // 1. Latency: a change visible through REST while BACKGROUND_RATE changes/s flow.
    // This process's event loop delay during the probes alone (the other agents and the background).
    const probeLag = monitorEventLoopDelay({ resolution: 10 });
    probeLag.enable();
    // The probe hosts' agents move to the prober's process, alone there as an agent is on its host.
    const probeHosts = hosts.slice(0, PROBE_HOSTS);
    for (const host of probeHosts) host.agent?.close();
    const prober = await VisibilityProber.start(
      api,
      auth.authorization,
      target,
      probeHosts.map((h) => ({ hostname: h.hostname, credential: h.credential, vm: h.vms[0] as Vm })),
    );
    const background = startBackground(hosts.slice(PROBE_HOSTS), BACKGROUND_RATE);
    await sleep(1000);
    const latencies: number[] = [];
    /** When each probe's change was acknowledged (committed by the controller), from its sending. */
    const ackTimes: number[] = [];
    let probeValue = 10_000;
    await controllerLoopDelay(api); // starts the controller's window
    const probesFrom = monotonicUs();
    for (let p = 0; p < PROBES; p++) {
      const i = Math.floor(Math.random() * probeHosts.length);
      const host = probeHosts[i] as Host;
      // VM 0 of each host is the probes' alone: no background change overwrites the value looked for.
      const memory = probeValue++;
      host.vms[0] = changed(host.vms[0] as Vm, memory);
      const { visibleMs, ackMs } = await prober.probe(i, memory);
      latencies.push(visibleMs);
      ackTimes.push(ackMs);
      await sleep(Math.random() * 20);
    }
    windows.push(`probes ${probesFrom}-${monotonicUs()}`);
    const controllerLag = await controllerLoopDelay(api);
    const flowed = await background.stop();
    probeLag.disable();
    await prober.close();
    // Back to this process for the other phases, resuming from the applied cursor.
    await each(probeHosts, 10, async (host) => {
      host.agent = await BenchAgent.connect(target, host.credential, host.hostname);
    });
    const latencyP99 = percentile(latencies, 99);
    console.log(
      `  latency: ${PROBES} probes, p50 ${fmt(percentile(latencies, 50))} ms, p99 ${fmt(latencyP99)} ms, max ${fmt(Math.max(...latencies))} ms; background ${fmt(flowed)} changes/s`,
    );
    const slowest = latencies
      .map((ms, p) => ({ ms, p }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5);
    console.log(
      `    slowest probes (probe number: visible / commit ms): ${slowest.map(({ ms, p }) => `#${p + 1}: ${fmt(ms)} / ${fmt(ackTimes[p] ?? Number.NaN)}`).join(', ')}`,
    );
    console.log(
      `    of which the ingest (sent to acknowledged, the commit): p50 ${fmt(percentile(ackTimes, 50))} ms, p99 ${fmt(percentile(ackTimes, 99))} ms; event loop delay meanwhile: the controller's p99 ${fmt(controllerLag.p99)} ms (max ${fmt(controllerLag.max)}), the bench process's (the other ${AGENTS - PROBE_HOSTS} agents) p99 ${fmt(probeLag.percentile(99) / 1e6)} ms`,
    );
    maxRss = Math.max(maxRss, controller.maxRss);
    rssByPhase.push(`latency ${fmt(mib(controller.maxRss), 0)}`);
    memoryByPhase.push(`latency: ${await controllerMemory(api)}`);

    // 2. GET /api/v1/vms?limit=100 with CLIENTS concurrent clients, and the plain SELECT of that page.
    const list = await loadList(`${api}/api/v1/vms?limit=100`, auth, SECONDS, LIST_PACED_RATE, () =>
      controller.cpuSeconds(),
    );
    const select = await plainSelect(db, SECONDS);
    console.log(
      `  list, ${CLIENTS} clients back to back: ${fmt(list.rps, 0)} req/s, p50 ${list.p50} ms, p99 ${list.p99} ms, controller CPU ${fmt(list.cpuPerRequestUs, 0)} µs/request (${fmt(list.netCpuPerRequestUs, 0)} less its idle upkeep), autocannon ${pct(list.clientCpuShare)} of a core, the agents' process ${pct(list.benchCpuShare)}; plain query ${fmt(select.qps, 0)} q/s, p99 ${fmt(select.p99)} ms (ratio ${fmt(list.rps / select.qps, 2)})`,
    );
    console.log(
      `  with no request (2 s before): the controller ${pct(list.idle.controllerShare)} of a core, the agents' process ${pct(list.idle.benchShare)}`,
    );
    console.log(
      `  the same ${fmt(list.bare.bytes / 1024, 1)} KB from a bare node:http server, ${CLIENTS} clients back to back: ${fmt(list.bare.rps, 0)} req/s, p50 ${list.bare.p50} ms, p99 ${list.bare.p99} ms, autocannon ${pct(list.bare.clientCpuShare)} of a core (the list: ${fmt(list.rps / list.bare.rps, 2)}× its rate)`,
    );
    console.log(
      `  list, ${CLIENTS} clients back to back asking for gzip: ${fmt(list.gzip.rps, 0)} req/s, p50 ${list.gzip.p50} ms, p99 ${list.gzip.p99} ms, controller CPU ${fmt(list.gzip.cpuPerRequestUs, 0)} µs/request (${fmt(list.gzip.netCpuPerRequestUs, 0)} less its idle upkeep), autocannon ${pct(list.gzip.clientCpuShare)} of a core, the agents' process ${pct(list.gzip.benchCpuShare)}`,
    );
    console.log(
      `  list, ${LIST_PACED_RATE} req/s at an even pace (up to ${CLIENTS} connections, timed from when due): ${fmt(list.paced.rps, 0)} req/s, p50 ${list.paced.p50} ms, p99 ${list.paced.p99} ms`,
    );
    maxRss = Math.max(maxRss, controller.maxRss);
    rssByPhase.push(`list ${fmt(mib(controller.maxRss), 0)}`);
    memoryByPhase.push(`list: ${await controllerMemory(api)}`);

    // 3. Ingest: every agent sends all its VMs as one batch, two batches in flight, for SECONDS.
    const ingestCpu = controller.cpuSeconds();
    const { rate: ingest, acked } = await timed('ingest', () => ingestFor(hosts, SECONDS));
    const cpuPerThousand = ((controller.cpuSeconds() - ingestCpu) / acked) * 1e6;
    const raw = await rawUpsert(db, hosts, SECONDS);
    console.log(
      `  ingest: ${fmt(ingest, 0)} changes/s acknowledged (controller CPU ${fmt(cpuPerThousand, 0)} ms per 1,000); raw upsert of the same rows ${fmt(raw, 0)} rows/s (ratio ${fmt(ingest / raw, 2)})`,
    );
    maxRss = Math.max(maxRss, controller.maxRss);
    rssByPhase.push(`ingest ${fmt(mib(controller.maxRss), 0)}`);
    memoryByPhase.push(`ingest: ${await controllerMemory(api)}`);

    // 4. Restart the controller: every agent reconnects and sends its whole host again.
    for (const host of hosts) host.agent?.close();
    const stopped = await controller.stop();
    if (stopped !== 0) throw new Error(`the controller exited ${stopped} after SIGTERM`);
    controller = await ControllerProcess.start(env, logFile);
    const listening = (controller.listeningAt - controller.spawnedAt) / 1000;
    await timed('resync', () => connectAndSnapshot(hosts, target));
    const resync = (performance.now() - controller.spawnedAt) / 1000;
    const stale = await db<{ n: string }[]>`
      select count(*)::text as n from vms v join hosts h on h.id = v.host_id where h.status <> 'connected'`;
    console.log(
      `  resync after restart: ${fmt(resync, 2)} s from spawn (listening after ${fmt(listening, 2)} s); stale VMs left: ${stale[0]?.n}`,
    );
    maxRss = Math.max(maxRss, controller.maxRss);
    rssByPhase.push(`resync (new process) ${fmt(mib(controller.maxRss), 0)}`);

    const total = AGENTS * VMS;
    const rows: Array<[string, string, string, boolean]> = [
      [
        `change visible through REST, p99 (${fmt(flowed, 0)} changes/s flowing)`,
        '≤ 50 ms',
        `${fmt(latencyP99)} ms`,
        latencyP99 <= 50,
      ],
      [
        'changes ingested',
        '≥ 20,000/s',
        `${fmt(ingest, 0)}/s (${fmt(ingest / raw, 2)}× raw upsert)`,
        ingest >= 20_000,
      ],
      [`full resync of ${fmt(total, 0)} VMs after a restart`, '≤ 10 s', `${fmt(resync, 2)} s`, resync <= 10],
      ['controller RSS (max)', '≤ 512 MiB', `${fmt(mib(maxRss), 0)} MiB`, mib(maxRss) <= 512],
      [
        `GET /api/v1/vms?limit=100, ${CLIENTS} clients, plain (as curl), p99`,
        '≤ 20 ms',
        `${list.p99} ms (${fmt(list.rps, 0)} req/s, ${fmt(list.rps / select.qps, 2)}× the plain query)`,
        list.p99 <= 20,
      ],
      [
        `… asking for gzip (as browsers, python-requests, Go do), p99`,
        '≤ 20 ms',
        `${list.gzip.p99} ms (${fmt(list.gzip.rps, 0)} req/s)`,
        list.gzip.p99 <= 20,
      ],
      [
        `… ${LIST_PACED_RATE} req/s at an even pace, p99`,
        '≤ 20 ms',
        `${list.paced.p99} ms`,
        list.paced.p99 <= 20,
      ],
    ];
    console.log(`  controller RSS, max so far (MiB) after: ${rssByPhase.join(', ')}`);
    console.log(`  controller memory (MiB) at the end of each phase: ${memoryByPhase.join('; ')}`);
    console.log(
      `  this process's event loop delay (agents, probes, load generator): p99 ${fmt(lag.percentile(99) / 1e6)} ms, max ${fmt(lag.max / 1e6)} ms; controller log: ${logFile}`,
    );
    if (process.env.BENCH_CONTROLLER_NODE_ARGS?.includes('--cpu-prof'))
      console.log(`  phases on the monotonic clock (µs, as in the profiles): ${windows.join(', ')}`);
    console.log(
      `\n| target (${AGENTS} agents × ${VMS} VMs) | goal | measured | |\n| --- | --- | --- | --- |`,
    );
    for (const [what, goal, got, ok] of rows)
      console.log(`| ${what} | ${goal} | ${got} | ${ok ? 'met' : 'MISSED'} |`);
  } finally {
    for (const host of hosts) host?.agent?.close();
    await controller.stop();
    await db.end();
    const dropper = connect(server, { max: 1 });
    await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await dropper.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function login(api: string): Promise<string> {
  const res = await fetch(`${api}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`login answered ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/** Connects every host's agent (new streams) and waits until each one's full snapshot is acknowledged. */
async function connectAndSnapshot(hosts: Host[], target: ControllerTarget): Promise<void> {
  await each(hosts, 50, async (host) => {
    host.agent = await BenchAgent.connect(target, host.credential, host.hostname);
    await host.agent.ackOf(await host.agent.snapshot(host.vms));
  });
}

/** `rate` single-VM changes per second spread over the hosts, every 10 ms; stop() returns the rate acknowledged. */
function startBackground(hosts: Host[], rate: number) {
  let sent = 0;
  let turn = 0;
  const acks: Promise<void>[] = [];
  const began = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - began) / 1000) * rate) - sent;
    for (let k = 0; k < due; k++) {
      const host = hosts[turn++ % hosts.length] as Host;
      const v = 1 + (turn % (host.vms.length - 1)); // not VM 0, the probes'
      host.vms[v] = changed(host.vms[v] as Vm, 1024 + (turn % 1024));
      const agent = host.agent as BenchAgent;
      // Awaited in stop(); a stream the controller ends meanwhile fails the run there, not unhandled here.
      const acked = agent.update([host.vms[v] as Vm]).then((cursor) => agent.ackOf(cursor));
      acked.catch(() => undefined);
      acks.push(acked);
      sent++;
    }
  }, 10);
  return {
    async stop(): Promise<number> {
      clearInterval(timer);
      await Promise.all(acks);
      return sent / ((performance.now() - began) / 1000);
    },
  };
}

/** Every agent sends all its VMs as one batch, keeping two batches in flight; changes acknowledged per second. */
async function ingestFor(hosts: Host[], seconds: number): Promise<{ rate: number; acked: number }> {
  const began = performance.now();
  const until = began + seconds * 1000;
  let acked = 0;
  let round = 0;
  await Promise.all(
    hosts.map(async (host) => {
      const agent = host.agent as BenchAgent;
      let previous: number | undefined;
      while (performance.now() < until) {
        round++;
        host.vms = host.vms.map((record) => changed(record, 1024 + (round % 2048)));
        const cursor = await agent.update(host.vms);
        if (previous !== undefined) {
          await agent.ackOf(previous);
          acked += host.vms.length;
        }
        previous = cursor;
      }
      if (previous !== undefined) {
        await agent.ackOf(previous);
        acked += host.vms.length;
      }
    }),
  );
  return { rate: acked / ((performance.now() - began) / 1000), acked };
}

/**
 * Baseline: the same rows upserted straight into a bare copy of the vms table (no cursor check, no
 * changes log, no stream), 4 connections, 5,000 rows a statement: what PostgreSQL itself takes.
 */
async function rawUpsert(db: ReturnType<typeof connect>, hosts: Host[], seconds: number): Promise<number> {
  await db`create table if not exists bench_raw_vms (
    id uuid primary key, host_id uuid not null, name text not null, state text not null,
    vcpus int not null, memory_mib bigint not null, updated_at timestamptz not null)`;
  const rows = hosts.flatMap((h) => h.vms.map((v) => ({ ...v, hostId: h.hostId })));
  const chunks: (typeof rows)[] = [];
  for (let i = 0; i < rows.length; i += 5000) chunks.push(rows.slice(i, i + 5000));
  const began = performance.now();
  const until = began + seconds * 1000;
  let written = 0;
  let round = 0;
  await Promise.all(
    Array.from({ length: 4 }, async (_, worker) => {
      while (performance.now() < until) {
        const chunk = chunks[(round++ * 4 + worker) % chunks.length] ?? [];
        await db`
          insert into bench_raw_vms (id, host_id, name, state, vcpus, memory_mib, updated_at)
          select * from unnest(${db.array(chunk.map((r) => r.id))}::uuid[], ${db.array(chunk.map((r) => r.hostId))}::uuid[],
            ${db.array(chunk.map((r) => r.name))}::text[], ${db.array(chunk.map((r) => String(r.state)))}::text[],
            ${db.array(chunk.map((r) => r.vcpus))}::int[], ${db.array(chunk.map((r) => r.memoryMib + round))}::bigint[],
            ${db.array(chunk.map(() => new Date().toISOString()))}::timestamptz[])
          on conflict (id) do update set name = excluded.name, state = excluded.state, vcpus = excluded.vcpus,
            memory_mib = excluded.memory_mib, updated_at = excluded.updated_at`;
        written += chunk.length;
      }
    }),
  );
  const rate = written / ((performance.now() - began) / 1000);
  await db`drop table bench_raw_vms`;
  return rate;
}

/**
 * CLIENTS connections, each sending its next request as soon as the previous one is answered (closed
 * loop: the server's throughput sets the latency, about CLIENTS / req/s), then requests at an even pace
 * of `pacedRate` per second in all over up to CLIENTS connections, timed from when each was due (a busy
 * dashboard fleet rather than a saturating one; support/paced-load.ts says why not autocannon's -R).
 * Both load generators run in processes of their own: in this one their timers and sockets would wait behind the
 * 1,000 agents' TLS streams and heartbeats (this process's event loop delay reached 1.1 s, p99 140 ms),
 * and that wait would count as the controller's latency.
 */
async function loadList(
  url: string,
  headers: Record<string, string>,
  seconds: number,
  pacedRate: number,
  controllerCpu: () => number,
) {
  await autocannonProcess(url, headers, 2); // JIT, pools
  // What the controller spends with no request at all (the agents' heartbeats, last-seen writes), and
  // this process (the 1,000 simulated agents) meanwhile: both run beside the list's requests.
  const idleFrom = { controller: controllerCpu(), bench: process.cpuUsage(), at: performance.now() };
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idleSeconds = (performance.now() - idleFrom.at) / 1000;
  const idle = {
    controllerShare: (controllerCpu() - idleFrom.controller) / idleSeconds,
    benchShare: cpuSeconds(process.cpuUsage(idleFrom.bench)) / idleSeconds,
  };
  const closedLoop = async (phase: string, requestHeaders: Record<string, string>) => {
    const cpuBefore = controllerCpu();
    const benchBefore = process.cpuUsage();
    const r = await timed(phase, () => autocannonProcess(url, requestHeaders, seconds));
    const cpu = controllerCpu() - cpuBefore;
    return {
      cpuPerRequestUs: (cpu / r.requests.total) * 1e6,
      // Less what it spends meanwhile with no request (the agents' upkeep at the idle rate).
      netCpuPerRequestUs: ((cpu - idle.controllerShare * seconds) / r.requests.total) * 1e6,
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      clientCpuShare: r.clientCpuShare,
      benchCpuShare: cpuSeconds(process.cpuUsage(benchBefore)) / seconds,
    };
  };
  // As curl sends it (no Accept-Encoding: 35 KB of JSON a page), then as browsers, python-requests and
  // Go's net/http send it by default (gzip: 5.6 KB).
  const plain = await closedLoop('list', headers);
  const gzip = await closedLoop('list-gzip', { ...headers, 'accept-encoding': 'gzip, deflate' });
  const paced = await timed('paced-list', () => pacedProcess(url, headers, seconds, pacedRate));
  const bare = await bareServer(url, headers, seconds);
  return {
    ...plain,
    gzip,
    idle,
    bare,
    paced: { rps: paced.requests / seconds, p50: paced.p50, p99: paced.p99 },
  };
}

/**
 * Baseline: the same page's bytes (fetched once) served by a bare node:http server in a process of its
 * own (no routing, token, logs or cache; one constant buffer), under the same CLIENTS closed-loop
 * clients: what this machine gives any Node server sending that answer, with autocannon beside it.
 */
async function bareServer(url: string, headers: Record<string, string>, seconds: number) {
  const page = Buffer.from(
    await (await fetch(url, { headers: { ...headers, 'accept-encoding': 'identity' } })).arrayBuffer(),
  );
  const port = await freePort();
  const server = `
    const body = Buffer.from(${JSON.stringify(page.toString('base64'))}, 'base64');
    require('node:http').createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    }).listen(${port}, '127.0.0.1', () => process.stdout.write('listening'));`;
  const child = spawn(process.execPath, ['-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the bare server exited ${code}`)));
    });
    const bareUrl = `http://127.0.0.1:${port}/`;
    await autocannonProcess(bareUrl, {}, 2);
    const r = await autocannonProcess(bareUrl, {}, seconds);
    return {
      bytes: page.length,
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      clientCpuShare: r.clientCpuShare,
    };
  } finally {
    child.kill();
  }
}

interface AutocannonSummary {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}

/** The autocannon command (its JSON summary), CLIENTS connections back to back. */
function autocannonProcess(
  url: string,
  headers: Record<string, string>,
  seconds: number,
): Promise<AutocannonSummary & { clientCpuShare: number }> {
  const args = ['-j', '-c', String(CLIENTS), '-d', String(seconds)];
  // Its own CPU, as this process's children that ended: no other child of this process ends while it
  // runs. At one core (1.0 of the run's length) it is the bottleneck, and its delays count as latency.
  const cpuBefore = procCpuSeconds('self', 'reapedChildren');
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile(
      join(packageDir, 'node_modules/.bin/autocannon'),
      args,
      { maxBuffer: 16 * 1024 * 1024 },
      (err, stdout) => {
        if (err) return reject(err);
        const r = JSON.parse(stdout) as AutocannonSummary;
        if (r.non2xx > 0 || r.errors > 0) {
          return reject(new Error(`${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`));
        }
        resolve({ ...r, clientCpuShare: (procCpuSeconds('self', 'reapedChildren') - cpuBefore) / seconds });
      },
    );
  });
}

/**
 * Baseline: the route's own query for the same page (listVms: the SELECT and its row mapping, no HTTP,
 * token or JSON), CLIENTS callers on a pool of 10 like the controller's.
 */
async function plainSelect(db: ReturnType<typeof connect>, seconds: number) {
  const times: number[] = [];
  const until = performance.now() + seconds * 1000;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        await listVms(db, {}, { limit: 100 });
        times.push(performance.now() - t);
      }
    }),
  );
  return { qps: times.length / ((performance.now() - began) / 1000), p99: percentile(times, 99) };
}

await main();

/** Requests at an even pace of `rate`/s over up to CLIENTS connections (support/paced-load.ts), in a process of its own. */
function pacedProcess(
  url: string,
  headers: Record<string, string>,
  seconds: number,
  rate: number,
): Promise<{ requests: number; errors: number; p50: number; p99: number; max: number }> {
  const args = ['--import', 'tsx', join(packageDir, 'bench/support/paced-load.ts'), url, String(rate)];
  args.push(String(seconds), String(CLIENTS), ...Object.entries(headers).map(([k, v]) => `${k}=${v}`));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: packageDir }, (err, stdout) => {
      if (err) return reject(err);
      const r = JSON.parse(stdout) as {
        requests: number;
        errors: number;
        p50: number;
        p99: number;
        max: number;
      };
      if (r.errors > 0) return reject(new Error(`${url}: ${r.errors} failed requests of ${r.requests}`));
      resolve(r);
    });
  });
}
