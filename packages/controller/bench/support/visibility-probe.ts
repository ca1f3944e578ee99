// bench:sync's latency probes, run as a process of its own, as an agent runs on its own host:
//   node --import tsx bench/support/visibility-probe.ts <api base URL> <authorization header value>
// The first line on stdin names the probe hosts ({"target", "hosts": [{hostname, credential, vm}]});
// this process connects their agents (real gRPC streams, resuming from the applied cursor), reads each
// probe VM a few times (warm-up) and writes {"ready": true}. Then for each line {"host", "memory"} it sends that host's VM with the new memory as
// the next change, reads GET /api/v1/vms/:id back to back until memory_mib is that value, and writes
// {"visibleMs", "ackMs"}: from sending the change to the first answer that has it, and to the agent's
// ack (the commit), both on this process's clock. In the bench's own process, the change and each
// answer waited behind 999 other agents' streams (its event loop delay was 18-40 ms p99), and that
// wait counted as the controller's.
import { createInterface } from 'node:readline';
import type { Vm } from '@cockpit/proto';
import type { ControllerTarget } from '../../test/support/scripted-agent.ts';
import { BenchAgent } from './bench-agent.ts';

const [api, authorization] = process.argv.slice(2);

interface ProbeHost {
  hostname: string;
  credential: string;
  vm: Vm;
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const first = await lines.next();
const { target, hosts } = JSON.parse(first.value as string) as {
  target: ControllerTarget;
  hosts: ProbeHost[];
};
const agents = await Promise.all(hosts.map((h) => BenchAgent.connect(target, h.credential, h.hostname)));
const read = (id: string) =>
  fetch(`${api}/api/v1/vms/${id}`, { headers: { authorization: authorization as string } });
// Warm-up, as the list's load gets one: the controller loads its VM cache at the first read (50,000
// rows, ~0.8 s), and this process opens its HTTP connection; the first probe of a run paid both.
for (let round = 0; round < 3; round++) for (const h of hosts) await (await read(h.vm.id)).json();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

for (let line = await lines.next(); line.done !== true; line = await lines.next()) {
  const { host: i, memory } = JSON.parse(line.value) as { host: number; memory: number };
  const host = hosts[i] as ProbeHost;
  const agent = agents[i] as BenchAgent;
  host.vm = { ...host.vm, memoryMib: memory };
  const sent = performance.now();
  const cursor = await agent.update([host.vm]);
  const acked = agent.ackOf(cursor).then(() => performance.now() - sent);
  for (;;) {
    const res = await read(host.vm.id);
    if (((await res.json()) as { memory_mib: number }).memory_mib === memory) break;
    if (performance.now() - sent > 60_000)
      throw new Error(`VM ${host.vm.id}: memory ${memory} not visible after 60 s`);
  }
  const visibleMs = performance.now() - sent;
  process.stdout.write(`${JSON.stringify({ visibleMs, ackMs: await acked })}\n`);
}
for (const agent of agents) agent.close();
