// Paired experiments behind docs/benchmarks.md "### Calls in flight: what was tested": variants of
// our client and of python3-libvirt against one harness libvirtd, alternating within each round,
// one line per round, then each variant's medians and its paired ratio to a base variant.
//   PROBE_VARIANTS  comma list of KIND:N[@burn], N = calls in flight (ours) or threads (python):
//     ours-long        the connection that set the guests up (as the bench's)
//     ours-warm        the same, 2000 operations right before the timed part (as python's script)
//     ours-noka        a second connection opened with keepalive off (the daemon never arms its timer)
//     ours-fresh       a connection opened for the run, 500 operations, timed part, closed
//     ours-fresh-noka  the same with keepalive off
//     ours-pool3       workers spread over 3 connections (libvirtd serves ≤ 5 calls per connection)
//     ours-bp          a connection with busyPollUs PROBE_BUSY_POLL_US (200)
//     py               libvirt_baseline.py in a fresh process (as the bench runs it)
//     pys              one long-lived libvirt_baseline.py --serve process and connection
//     @burn            two SCHED_IDLE busy loops during the run, so that no vCPU halts
//     @haltpoll        the guest kernel polls PROBE_HALT_POLL_NS (200000, the kernel's default) before
//                      it halts an idle vCPU, for this run only (cpuidle-haltpoll, root)
// Each run also counts, per RPC, the vCPUs' halts (h; NaN where no cpuidle driver counts them), the
// interrupts between them (i: RES + CAL), and of those the TLB shootdowns (t). The counters are
// machine-wide around the whole run: for `py` they include the script's start and warm-up, so compare
// `pys` with ours.
//   PROBE_ROUNDS (6), PROBE_OPS (2000), PROBE_BASE (the first py/pys variant)
// Run it as the bench: `nice -n 10 npx tsx bench/inflight-probe.ts` in packages/libvirt.

import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { connect } from '../src/index.ts';
import { type LibvirtHost, startLibvirtHost } from '../test/harness/index.ts';
import { setUpGuests } from './bench-guests.ts';
import { daemonPid, shareOurPriority } from './daemon-process.ts';
import { countersSince, readIdleCounters, withHaltPoll } from './idle-counters.ts';
import { median } from './latency-summary.ts';
import { runOurs } from './our-throughput.ts';
import { type PythonThroughput, pythonServer, pythonThroughput } from './python-baseline.ts';

const OPS = Number(process.env.PROBE_OPS ?? 2000);
const ROUNDS = Number(process.env.PROBE_ROUNDS ?? 6);
const VARIANTS = (process.env.PROBE_VARIANTS ?? 'py:16,ours-long:16,py:4,ours-long:4').split(',');
const BASE = process.env.PROBE_BASE ?? VARIANTS.find((v) => v.startsWith('py')) ?? (VARIANTS[0] as string);
const NO_KEEPALIVE = { keepalive: { intervalMs: 0, count: 5 } };
const BUSY_POLL_US = Number(process.env.PROBE_BUSY_POLL_US ?? 200);
const HALT_POLL = Number(process.env.PROBE_HALT_POLL_NS ?? 200_000);

/** One run: operations per second, client and daemon CPU µs per operation, halts and IPIs per RPC. */
interface Run {
  rate: number;
  clientUs: number;
  daemonUs: number;
  haltsPerRpc?: number;
  ipisPerRpc?: number;
  tlbPerRpc?: number;
}

/** Our client's run (our-throughput.ts) in this probe's units. */
async function ours(...args: Parameters<typeof runOurs>): Promise<Run> {
  const [, , ops] = args;
  const { seconds, cpuUs, daemonUs } = await runOurs(...args);
  return { rate: ops / seconds, clientUs: cpuUs / ops, daemonUs: daemonUs / ops };
}

const fromPython = (r: PythonThroughput): Run => ({
  rate: r.ops / r.seconds,
  clientUs: (r.cpuSeconds * 1e6) / r.ops,
  daemonUs: (r.daemonCpuSeconds * 1e6) / r.ops,
});

/** Two busy loops at SCHED_IDLE: they run only when nothing else wants a vCPU, so none halts. */
const startBurners = (): ChildProcess[] =>
  [0, 1].map(() => spawn('chrt', ['-i', '0', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));

async function main(): Promise<void> {
  const host = await startLibvirtHost();
  try {
    await probe(host);
  } finally {
    await host.stop();
  }
}

async function probe(host: LibvirtHost): Promise<void> {
  const daemon = daemonPid(host.stateDir);
  console.log(`libvirtd ${daemon} at ${shareOurPriority(daemon)}, ${OPS} operations per run`);
  const long = await connect(host.unixUri);
  const { uuids } = await setUpGuests(long, host, 'probe');
  const noKeepalive = await connect(host.unixUri, NO_KEEPALIVE);
  const pool3 = [long, await connect(host.unixUri), await connect(host.unixUri)];
  const busyPoll = await connect(host.unixUri, { busyPollUs: BUSY_POLL_US });
  for (const conn of [long, noKeepalive, pool3, busyPoll]) {
    await ours(conn, uuids, 2000, 16, daemon);
    await ours(conn, uuids, 2000, 1, daemon);
  }
  const pys = VARIANTS.some((v) => v.startsWith('pys:'))
    ? await pythonServer(host.unixUri, uuids, daemon)
    : undefined;

  const runVariant = async (kind: string, n: number): Promise<Run> => {
    switch (kind) {
      case 'py':
        return fromPython(await pythonThroughput(host.unixUri, uuids, OPS, n, 2000, daemon));
      case 'pys':
        return fromPython(await (pys as NonNullable<typeof pys>).run(n, OPS));
      case 'ours-warm':
        await ours(long, uuids, 2000, n, daemon);
        return ours(long, uuids, OPS, n, daemon);
      case 'ours-noka':
        return ours(noKeepalive, uuids, OPS, n, daemon);
      case 'ours-fresh':
      case 'ours-fresh-noka': {
        const conn = await connect(host.unixUri, kind === 'ours-fresh' ? {} : NO_KEEPALIVE);
        await ours(conn, uuids, 500, n, daemon);
        const run = await ours(conn, uuids, OPS, n, daemon);
        await conn.close();
        return run;
      }
      case 'ours-long':
        return ours(long, uuids, OPS, n, daemon);
      case 'ours-pool3':
        return ours(pool3, uuids, OPS, n, daemon);
      case 'ours-bp':
        return ours(busyPoll, uuids, OPS, n, daemon);
      default:
        throw new Error(`unknown variant kind ${kind}`);
    }
  };

  const results = new Map<string, Run[]>(VARIANTS.map((v) => [v, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const line: string[] = [];
      for (const variant of VARIANTS) {
        const [spec = '', mode] = variant.split('@');
        const [kind = '', n] = spec.split(':');
        const burners = mode === 'burn' ? startBurners() : [];
        const counters = readIdleCounters();
        const timed = () => runVariant(kind, Number(n));
        const run = await (mode === 'haltpoll' ? withHaltPoll(HALT_POLL, timed) : timed()).finally(() => {
          for (const b of burners) b.kill('SIGKILL');
        });
        const { halts, ipis, tlb } = countersSince(counters);
        run.haltsPerRpc = halts / (OPS * 3);
        run.ipisPerRpc = ipis / (OPS * 3);
        run.tlbPerRpc = tlb / (OPS * 3);
        results.get(variant)?.push(run);
        line.push(
          `${variant} ${run.rate.toFixed(0)}/s d${run.daemonUs.toFixed(0)} c${run.clientUs.toFixed(0)} ` +
            `h${run.haltsPerRpc.toFixed(2)} i${run.ipisPerRpc.toFixed(2)} t${run.tlbPerRpc.toFixed(2)}`,
        );
      }
      console.log(`round ${round} load ${loadavg()[0]?.toFixed(2)} | ${line.join(' | ')}`);
    }
  } finally {
    pys?.close();
    await noKeepalive.close();
    await busyPoll.close();
    for (const conn of pool3.slice(1)) await conn.close();
    await long.close();
  }
  const base = results.get(BASE) ?? [];
  for (const [variant, runs] of results) {
    const paired = median(runs.map((r, i) => r.rate / (base[i]?.rate ?? Number.NaN)));
    console.log(
      `${variant.padEnd(20)} median ${median(runs.map((r) => r.rate)).toFixed(0)}/s, daemon ` +
        `${median(runs.map((r) => r.daemonUs)).toFixed(0)} µs/op, client ${median(runs.map((r) => r.clientUs)).toFixed(0)} µs/op, ` +
        `per RPC ${median(runs.map((r) => r.haltsPerRpc ?? Number.NaN)).toFixed(2)} halts and ` +
        `${median(runs.map((r) => r.ipisPerRpc ?? Number.NaN)).toFixed(2)} IPIs ` +
        `(${median(runs.map((r) => r.tlbPerRpc ?? Number.NaN)).toFixed(2)} TLB), ` +
        `paired ÷ ${BASE}: ${paired.toFixed(2)}`,
    );
  }
}

await main();
