// pnpm bench:migrate — a live migration driven through REST (controller → agents → libvirt) next to the
// same migration with `virsh migrate --live --p2p` (the baseline: libvirt alone), in one run: two
// harness libvirt hosts, a real `cockpit-agent` on each, one controller on PostgreSQL (TEST_DATABASE_URL),
// one running 64 MiB QEMU guest moved back and forth. Rounds alternate tool and direction
// (REST A→B, virsh B→A, virsh A→B, REST B→A), so each tool moves it each way equally often.
//
// REST: from the POST to the operation's final status (`GET /api/v1/operations/:id?wait=`, woken by
// the controller's notification). virsh: the `virsh migrate` process from spawn to exit. Between two
// migrations (not timed) REST must show the guest running on its new host. Knob: BENCH_ROUNDS (default
// 4 rounds = 8 migrations per tool); BENCH_VIRSH_POLL=1 has the virsh baseline read the job statistics
// every second meanwhile, as the source agent does. Needs root (the harness), libvirt/QEMU and PostgreSQL.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  guestXml,
  type LibvirtHost,
  startLibvirtHost,
  virsh,
  waitFor,
} from '../../packages/libvirt/test/harness/index.ts';
import type { AgentProcess } from '../support/agent-process.ts';
import { type E2eController, startE2eController } from '../support/e2e-controller.ts';
import { createE2eDatabase, type E2eDatabase } from '../support/e2e-database.ts';
import { libvirtHostFlags, startJoinedAgent } from '../support/joined-agent.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const POLL_JOB = process.env.BENCH_VIRSH_POLL === '1';

interface Side {
  name: 'A' | 'B';
  host: LibvirtHost;
  hostId: string;
}
type Tool = 'REST' | 'virsh';
interface Sample {
  tool: Tool;
  direction: string;
  ms: number;
}

const agents: AgentProcess[] = [];
let ctl: E2eController | undefined;
let db: E2eDatabase | undefined;
const hosts: LibvirtHost[] = [];

async function side(name: 'A' | 'B', host: LibvirtHost, c: E2eController): Promise<Side> {
  const { host: joined } = await startJoinedAgent(c, {
    hostname: host.name,
    flags: libvirtHostFlags(host, join(mkdtempSync(join(tmpdir(), 'cockpit-bench-mig-agent-')), 'state')),
    started: agents,
  });
  return { name, host, hostId: String(joined.id) };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

async function main(): Promise<void> {
  // The agents run compiled (dist/main.js), rebuilt first when a source changed.
  execFileSync(process.execPath, [join(import.meta.dirname, '../../scripts/build.mjs'), '--if-stale'], {
    stdio: 'inherit',
  });
  const tag = randomBytes(3).toString('hex');
  const [hostA, hostB, database] = await Promise.all([
    startLibvirtHost({ name: `bench-mig-a-${tag}` }),
    startLibvirtHost({ name: `bench-mig-b-${tag}` }),
    createE2eDatabase(),
  ]);
  hosts.push(hostA, hostB);
  db = database;
  const c = await startE2eController(database, mkdtempSync(join(tmpdir(), 'cockpit-bench-migrate-')));
  ctl = c;
  const a = await side('A', hostA, c);
  const b = await side('B', hostB, c);
  const guest = { name: `bench-${tag}`, id: randomUUID() };
  const file = join(hostA.stateDir, `${guest.name}.xml`);
  await writeFile(file, guestXml({ name: guest.name, uuid: guest.id, memoryMiB: 64 }));
  await virsh(hostA.uri, 'define', file);
  await virsh(hostA.uri, 'start', guest.name);

  /** Waits (untimed) until REST shows the guest running on `on`, with no migration of it unfinished. */
  const settledOn = (on: Side) =>
    waitFor(
      async () => {
        const vm = (await c.api('GET', `/api/v1/vms/${guest.id}`)).body;
        const busy = (await c.api('GET', `/api/v1/operations?vm_id=${guest.id}&status=running`)).body
          .operations.length;
        return vm?.host_id === on.hostId && vm.state === 'running' && busy === 0 ? true : undefined;
      },
      { what: `the guest running on ${on.name} in REST`, timeoutMs: 60_000, intervalMs: 50 },
    );

  const viaRest = async (to: Side): Promise<number> => {
    const began = performance.now();
    const res = await c.api('POST', `/api/v1/vms/${guest.id}/migrate`, {
      destination_host_id: to.hostId,
      live: true,
      persistent: true,
      undefine_source: true,
      copy_storage: 'none',
    });
    if (res.status !== 202) throw new Error(`migrate: ${res.status} ${JSON.stringify(res.body)}`);
    for (;;) {
      const op = (await c.api('GET', `/api/v1/operations/${res.body.migration_id}?wait=60`)).body;
      if (op.status === 'succeeded') return performance.now() - began;
      if (op.status === 'failed' || op.status === 'cancelled') {
        throw new Error(`migration ${op.status}: ${JSON.stringify(op.error)}`);
      }
    }
  };
  const viaVirsh = async (from: Side, to: Side): Promise<number> => {
    const began = performance.now();
    const migrating = virsh(
      from.host.uri,
      'migrate',
      '--live',
      '--p2p',
      '--persistent',
      '--undefinesource',
      guest.name,
      to.host.uri,
    );
    // BENCH_VIRSH_POLL=1: read libvirt's job statistics every second meanwhile, as the source agent
    // does for its progress updates (to tell whether that sampling slows a migration down).
    let polling = POLL_JOB;
    const poll = (async () => {
      while (polling) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        if (polling) await virsh(from.host.uri, 'domjobinfo', guest.name).catch(() => undefined);
      }
    })();
    try {
      await migrating;
    } finally {
      polling = false;
    }
    const ms = performance.now() - began;
    await poll;
    return ms;
  };

  await settledOn(a);
  const samples: Sample[] = [];
  const plan: Array<[Tool, Side, Side]> = [
    ['REST', a, b],
    ['virsh', b, a],
    ['virsh', a, b],
    ['REST', b, a],
  ];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [tool, from, to] of plan) {
      const ms = tool === 'REST' ? await viaRest(to) : await viaVirsh(from, to);
      samples.push({ tool, direction: `${from.name}→${to.name}`, ms });
      process.stdout.write(
        `round ${round + 1}: ${tool.padEnd(5)} ${from.name}→${to.name} ${ms.toFixed(0)} ms\n`,
      );
      await settledOn(to);
    }
  }

  const of = (tool: Tool, direction?: string) =>
    samples
      .filter((s) => s.tool === tool && (direction === undefined || s.direction === direction))
      .map((s) => s.ms);
  process.stdout.write(`\n${ROUNDS * 2} migrations per tool of a running 64 MiB guest (median ms):\n`);
  for (const direction of ['A→B', 'B→A', undefined]) {
    const rest = median(of('REST', direction));
    const base = median(of('virsh', direction));
    process.stdout.write(
      `  ${(direction ?? 'both').padEnd(5)} REST ${rest.toFixed(0).padStart(6)}   virsh --p2p ${base.toFixed(0).padStart(6)}   ratio ${(rest / base).toFixed(3)}\n`,
    );
  }
}

async function cleanUp(): Promise<void> {
  await Promise.allSettled(agents.map((agent) => agent.kill()));
  await ctl?.stop().catch(() => undefined);
  await Promise.allSettled(hosts.map((h) => h.stop()));
  await db?.drop().catch(() => undefined);
}

main()
  .then(cleanUp)
  .catch(async (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    for (const agent of agents) process.stderr.write(`${agent.stderr.slice(-1000)}\n`);
    await cleanUp();
    process.exitCode = 1;
  });
