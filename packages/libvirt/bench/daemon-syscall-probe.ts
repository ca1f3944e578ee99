// What libvirtd does per RPC for our client and for python3-libvirt: `perf stat` on the daemon's
// threads around each run counts its system calls (all, and read, write, poll, futex), context
// switches and migrations; both clients on one long-lived connection each, alternating. With
// PROBE_PERF_RECORD=1 it samples the daemon instead (`perf record -e cpu-clock`) into
// /tmp/daemon-<client><n>-<round>.data, for `perf report -i … --sort sym`.
//   PROBE_ROUNDS (3), PROBE_OPS (6000); variants ours:4, py:4, ours:16, py:16
// Run it as the bench, as root: `nice -n -15 npx tsx bench/daemon-syscall-probe.ts` in packages/libvirt.

import { spawn } from 'node:child_process';
import { runOurs } from './our-throughput.ts';
import { withProbeSetup } from './probe-setup.ts';

const OPS = Number(process.env.PROBE_OPS ?? 6000);
const ROUNDS = Number(process.env.PROBE_ROUNDS ?? 3);
const RECORD = process.env.PROBE_PERF_RECORD === '1';
const SYSCALLS = ['read', 'write', 'poll', 'futex'];
const EVENTS = [
  'raw_syscalls:sys_enter',
  ...SYSCALLS.map((s) => `syscalls:sys_enter_${s}`),
  'context-switches',
  'cpu-migrations',
];
const VARIANTS = [
  ['ours', 4],
  ['py', 4],
  ['ours', 16],
  ['py', 16],
] as const;

/** Runs `run` under perf attached to `pid`; perf's counts by event name (stat) or none (record). */
async function underPerf(pid: number, label: string, run: () => Promise<void>): Promise<Map<string, number>> {
  const args = RECORD
    ? ['record', '-q', '-F', '2000', '-e', 'cpu-clock', '-o', `/tmp/daemon-${label}.data`, '-p', String(pid)]
    : ['stat', '-x', ',', '-e', EVENTS.join(','), '-p', String(pid)];
  const perf = spawn('perf', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let report = '';
  perf.stderr.on('data', (chunk) => {
    report += chunk;
  });
  // perf prints nothing once attached; give it the time it takes to attach to every thread.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await run();
  perf.kill('SIGINT');
  await new Promise((resolve) => perf.on('close', resolve));
  const counts = new Map<string, number>();
  for (const line of report.split('\n')) {
    const [value, , event] = line.split(',');
    if (event && value && /^\d+$/.test(value)) counts.set(event, Number(value));
  }
  return counts;
}

await withProbeSetup('syscalls', async ({ daemon, daemonPriority, conn, uuids, python }) => {
  console.log(`libvirtd ${daemon} at ${daemonPriority}, ${OPS} operations (3 RPCs each) per run`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [client, n] of VARIANTS) {
      let seconds = 0;
      const counts = await underPerf(daemon, `${client}${n}-${round}`, async () => {
        if (client === 'ours') {
          seconds = (await runOurs(conn, uuids, OPS, n, daemon)).seconds;
        } else {
          seconds = (await python.run(n, OPS)).seconds;
        }
      });
      const perRpc = EVENTS.filter((e) => counts.has(e))
        .map(
          (e) =>
            `${e.replace(/^(raw_)?syscalls:sys_enter_?/, '') || 'syscalls'} ${((counts.get(e) ?? 0) / (OPS * 3)).toFixed(2)}`,
        )
        .join(', ');
      console.log(
        `round ${round} ${client}:${n} ${(OPS / seconds).toFixed(0)} ops/s${perRpc ? ` | daemon per RPC: ${perRpc}` : ''}`,
      );
    }
  }
});
