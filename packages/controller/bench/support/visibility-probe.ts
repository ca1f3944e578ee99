// The REST side of bench:sync's latency probes, run as a process of its own:
//   node --import tsx bench/support/visibility-probe.ts <api base URL> <authorization header value>
// For each line {"id", "memory", "sentAt"} on stdin (sentAt: Date.now(), taken by the bench just before
// its agent sent the change; the system clock both processes read alike, where performance.timeOrigin
// differed between them by up to ~100 ms), it reads
// GET /api/v1/vms/:id back to back until memory_mib is that value, then writes {"seenAt"} (same clock).
// In the bench's own process, each read's answer waited behind 1,000 agents' streams (its event loop
// delay reaches ~100 ms p99), and that wait counted as the controller's.
import { createInterface } from 'node:readline';

const [api, authorization] = process.argv.slice(2);

for await (const line of createInterface({ input: process.stdin })) {
  const { id, memory, sentAt } = JSON.parse(line) as { id: string; memory: number; sentAt: number };
  for (;;) {
    const res = await fetch(`${api}/api/v1/vms/${id}`, {
      headers: { authorization: authorization as string },
    });
    if (((await res.json()) as { memory_mib: number }).memory_mib === memory) break;
    if (Date.now() - sentAt > 60_000) throw new Error(`VM ${id}: memory ${memory} not visible after 60 s`);
  }
  process.stdout.write(`${JSON.stringify({ seenAt: Date.now() })}\n`);
}
