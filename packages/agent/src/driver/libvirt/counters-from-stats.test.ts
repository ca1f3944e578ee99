import {
  type DomainStats,
  type TypedParamRecord,
  VIR_DOMAIN_PAUSED,
  VIR_DOMAIN_PAUSED_MIGRATION,
  VIR_DOMAIN_PAUSED_USER,
  VIR_DOMAIN_RUNNING,
} from '@cockpit/libvirt';
import { describe, expect, it } from 'vitest';
import { hostCountersFromNode, readingFromStats, vmCountersFromStats } from './counters-from-stats.ts';

// libvirt's bulk statistics as the QEMU driver returns them (field names of virConnectGetAllDomainStats,
// counters as ullong → bigint): the counters the sampler needs, and which domains are left out.

const record = (id: number, stats: TypedParamRecord): DomainStats => ({
  domain: { name: 'g1', uuid: '6F2C0D8E-33A4-4B8A-9E55-0C6A2B1D7E01', id },
  params: [],
  stats,
});

const running: TypedParamRecord = {
  'state.state': VIR_DOMAIN_RUNNING,
  'state.reason': 1,
  'cpu.time': 123_456_789_000n,
  'cpu.user': 100n,
  'balloon.current': 65536n,
  'balloon.maximum': 65536n,
  'balloon.rss': 40000n,
  'vcpu.current': 2,
  'vcpu.maximum': 2,
  'vcpu.0.time': 1n,
  'net.count': 1,
  'net.0.name': 'vnet3',
  'net.0.rx.bytes': 1000n,
  'net.0.rx.pkts': 10n,
  'net.0.tx.bytes': 2000n,
  'net.0.tx.pkts': 20n,
  'block.count': 2,
  'block.0.name': 'vda',
  'block.0.path': '/var/lib/libvirt/images/g1.qcow2',
  'block.0.rd.reqs': 5n,
  'block.0.rd.bytes': 512n,
  'block.0.wr.reqs': 6n,
  'block.0.wr.bytes': 4096n,
  // An empty CD-ROM: a name, no counters.
  'block.1.name': 'hdc',
};

describe('counters from libvirt statistics', () => {
  it('a running domain: cpu.time, balloon (KiB → bytes), vCPUs, disks and interfaces by name', () => {
    expect(vmCountersFromStats(record(42, running))).toEqual({
      id: '6f2c0d8e-33a4-4b8a-9e55-0c6a2b1d7e01',
      name: 'g1',
      instance: 42,
      vcpus: 2,
      cpuTimeNs: 123_456_789_000,
      memoryCurrentBytes: 65536 * 1024,
      memoryAvailableBytes: undefined,
      memoryUnusedBytes: undefined,
      memoryUsableBytes: undefined,
      memoryRssBytes: 40000 * 1024,
      disks: [{ name: 'vda', readBytes: 512, writeBytes: 4096, readRequests: 5, writeRequests: 6 }],
      nets: [{ name: 'vnet3', rxBytes: 1000, txBytes: 2000, rxPackets: 10, txPackets: 20 }],
    });
  });

  it("a guest's balloon driver figures when it reports them", () => {
    const c = vmCountersFromStats(
      record(1, {
        ...running,
        'balloon.available': 60000n,
        'balloon.unused': 20000n,
        'balloon.usable': 30000n,
      }),
    );
    expect([c?.memoryAvailableBytes, c?.memoryUnusedBytes, c?.memoryUsableBytes]).toEqual([
      60000 * 1024,
      20000 * 1024,
      30000 * 1024,
    ]);
  });

  it('paused by the user: sampled; the paused copy of an incoming migration, or a domain without id: not', () => {
    const paused = { ...running, 'state.state': VIR_DOMAIN_PAUSED, 'state.reason': VIR_DOMAIN_PAUSED_USER };
    expect(vmCountersFromStats(record(7, paused))).toBeDefined();
    const incoming = { ...paused, 'state.reason': VIR_DOMAIN_PAUSED_MIGRATION };
    expect(vmCountersFromStats(record(7, incoming))).toBeUndefined();
    expect(vmCountersFromStats(record(-1, running))).toBeUndefined();
    const reading = readingFromStats([record(7, incoming), record(8, running)], {}, {}, 5);
    expect(reading.vms.map((v) => v.instance)).toEqual([8]);
    expect(reading.readAtMs).toBe(5);
  });

  it('the node: busy = kernel + user, total adds idle and iowait; memory used excludes buffers and cache', () => {
    const host = hostCountersFromNode(
      { kernel: 10n, user: 30n, idle: 50n, iowait: 10n },
      { total: 1000n, free: 200n, buffers: 100n, cached: 300n },
    );
    expect(host).toEqual({
      cpuBusyNs: 40,
      cpuTotalNs: 100,
      memoryTotalBytes: 1000 * 1024,
      memoryUsedBytes: 400 * 1024,
      memoryAvailableBytes: 600 * 1024,
    });
  });
});
