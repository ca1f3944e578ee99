import type { LibvirtConnection } from '../src/index.ts';
import { processCpuSeconds } from './daemon-process.ts';

/**
 * The throughput workload of bench:libvirt and its probe, through our client: `inFlight` workers each
 * running lookup by UUID → get info → get state back to back, `ops` operations in all. Worker k uses
 * connection k mod the pool's size (the bench passes one connection; the probe's pool variant three).
 * Returns the wall time and the CPU time of this process and of the daemon over the timed part.
 */
export async function runOurs(
  conns: LibvirtConnection | LibvirtConnection[],
  uuids: string[],
  ops: number,
  inFlight: number,
  daemon: number,
): Promise<{ seconds: number; cpuUs: number; daemonUs: number }> {
  const pool = Array.isArray(conns) ? conns : [conns];
  let next = 0;
  const worker = async (_: unknown, k: number) => {
    const conn = pool[k % pool.length] as LibvirtConnection;
    for (let i = next++; i < ops; i = next++) {
      const dom = await conn.domains.lookupByUuid(uuids[i % uuids.length] as string);
      await conn.domains.getInfo(dom);
      await conn.domains.getState(dom);
    }
  };
  const daemonBegan = processCpuSeconds(daemon);
  const began = performance.now();
  const cpuBegan = process.cpuUsage();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const cpu = process.cpuUsage(cpuBegan);
  const seconds = (performance.now() - began) / 1000;
  const daemonUs = (processCpuSeconds(daemon) - daemonBegan) * 1e6;
  return { seconds, cpuUs: cpu.user + cpu.system, daemonUs };
}
