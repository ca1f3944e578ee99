import type { HostSample, VmSample } from '@cockpit/proto';

/**
 * The newest sample of each VM and host whose agent streams to this replica: the current gauges of
 * /metrics, without a query. Entries older than `staleMs` (the VM stopped, the agent left) are not shown
 * and are forgotten at the next read.
 */
export class LatestSamples {
  private readonly vms = new Map<string, { hostId: string; sample: VmSample }>();
  private readonly hosts = new Map<string, HostSample>();

  constructor(private readonly staleMs: number) {}

  noteVm(hostId: string, sample: VmSample): void {
    const known = this.vms.get(sample.vmId);
    if (known === undefined || known.sample.atMs <= sample.atMs)
      this.vms.set(sample.vmId, { hostId, sample });
  }

  noteHost(hostId: string, sample: HostSample): void {
    const known = this.hosts.get(hostId);
    if (known === undefined || known.atMs <= sample.atMs) this.hosts.set(hostId, sample);
  }

  /** Fresh VM samples (newer than nowMs - staleMs), each with the host that sent it. */
  currentVms(nowMs: number): Array<{ hostId: string; sample: VmSample }> {
    const fresh: Array<{ hostId: string; sample: VmSample }> = [];
    for (const [id, entry] of this.vms) {
      if (entry.sample.atMs < nowMs - this.staleMs) this.vms.delete(id);
      else fresh.push(entry);
    }
    return fresh;
  }

  /** Fresh host samples (newer than nowMs - staleMs). */
  currentHosts(nowMs: number): Array<{ hostId: string; sample: HostSample }> {
    const fresh: Array<{ hostId: string; sample: HostSample }> = [];
    for (const [hostId, sample] of this.hosts) {
      if (sample.atMs < nowMs - this.staleMs) this.hosts.delete(hostId);
      else fresh.push({ hostId, sample });
    }
    return fresh;
  }
}
