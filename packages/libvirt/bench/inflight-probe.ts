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
//     py               libvirt_baseline.py in a fresh process (as the bench runs it)
//     pys              one long-lived libvirt_baseline.py --serve process and connection
//     @burn            two SCHED_IDLE busy loops during the run, so that no vCPU halts
//   PROBE_ROUNDS (6), PROBE_OPS (2000), PROBE_BASE (the first py/pys variant)
// Run it as the bench: `nice -n 10 npx tsx bench/inflight-probe.ts` in packages/libvirt.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect } from '../src/index.ts';
import { guestXml, type LibvirtHost, startLibvirtHost } from '../test/harness/index.ts';
import { daemonPid, shareOurPriority } from './daemon-process.ts';
import { median } from './latency-summary.ts';
import { runOurs } from './our-throughput.ts';
import { type PythonThroughput, pythonThroughput } from './python-baseline.ts';

const OPS = Number(process.env.PROBE_OPS ?? 2000);
const ROUNDS = Number(process.env.PROBE_ROUNDS ?? 6);
const VARIANTS = (process.env.PROBE_VARIANTS ?? 'py:16,ours-long:16,py:4,ours-long:4').split(',');
const BASE = process.env.PROBE_BASE ?? VARIANTS.find((v) => v.startsWith('py')) ?? (VARIANTS[0] as string);
const NO_KEEPALIVE = { keepalive: { intervalMs: 0, count: 5 } };

/** One run: operations per second, client and daemon CPU µs per operation. */
interface Run {
  rate: number;
  clientUs: number;
  daemonUs: number;
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

/** python3-libvirt on one long-lived connection; each run asked for by a line on its stdin. */
function pythonServer(uri: string, uuids: string[], daemon: number) {
  const script = fileURLToPath(new URL('./libvirt_baseline.py', import.meta.url));
  const args = [
    '--serve',
    '--uri',
    uri,
    '--uuids',
    uuids.join(','),
    '--warmup',
    '2000',
    '--daemon-pid',
    String(daemon),
  ];
  const child = spawn('/usr/bin/python3', [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async run(threads: number, ops: number): Promise<Run> {
      child.stdin.write(`${threads} ${ops}\n`);
      return fromPython(JSON.parse((await lines.next()).value as string));
    },
    close: () => child.stdin.end(),
  };
}

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
  const uuids: string[] = [];
  for (let i = 0; i < 8; i++) {
    const dom = await long.domains.defineXml(
      guestXml({ name: `probe-${host.name}-${i}`, uuid: randomUUID() }),
    );
    uuids.push(dom.uuid);
  }
  await long.domains.create(await long.domains.lookupByUuid(uuids[0] as string));
  const noKeepalive = await connect(host.unixUri, NO_KEEPALIVE);
  const pool3 = [long, await connect(host.unixUri), await connect(host.unixUri)];
  for (const conn of [long, noKeepalive, pool3]) {
    await ours(conn, uuids, 2000, 16, daemon);
    await ours(conn, uuids, 2000, 1, daemon);
  }
  const pys = VARIANTS.some((v) => v.startsWith('pys:'))
    ? pythonServer(host.unixUri, uuids, daemon)
    : undefined;

  const runVariant = async (kind: string, n: number): Promise<Run> => {
    switch (kind) {
      case 'py':
        return fromPython(await pythonThroughput(host.unixUri, uuids, OPS, n, 2000, daemon));
      case 'pys':
        return (pys as NonNullable<typeof pys>).run(n, OPS);
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
        const run = await runVariant(kind, Number(n)).finally(() => {
          for (const b of burners) b.kill('SIGKILL');
        });
        results.get(variant)?.push(run);
        line.push(
          `${variant} ${run.rate.toFixed(0)}/s d${run.daemonUs.toFixed(0)} c${run.clientUs.toFixed(0)}`,
        );
      }
      console.log(`round ${round} load ${loadavg()[0]?.toFixed(2)} | ${line.join(' | ')}`);
    }
  } finally {
    pys?.close();
    await noKeepalive.close();
    for (const conn of pool3.slice(1)) await conn.close();
    await long.close();
  }
  const base = results.get(BASE) ?? [];
  for (const [variant, runs] of results) {
    const paired = median(runs.map((r, i) => r.rate / (base[i]?.rate ?? Number.NaN)));
    console.log(
      `${variant.padEnd(20)} median ${median(runs.map((r) => r.rate)).toFixed(0)}/s, daemon ` +
        `${median(runs.map((r) => r.daemonUs)).toFixed(0)} µs/op, client ${median(runs.map((r) => r.clientUs)).toFixed(0)} µs/op, ` +
        `paired ÷ ${BASE}: ${paired.toFixed(2)}`,
    );
  }
}

await main();
