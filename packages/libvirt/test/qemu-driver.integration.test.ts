import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  type Domain,
  type DomainEvent,
  isOperationAborted,
  isOperationInvalid,
  type LibvirtConnection,
  toRemoteDomain,
  VIR_DOMAIN_EVENT_RESUMED,
  VIR_DOMAIN_EVENT_RESUMED_UNPAUSED,
  VIR_DOMAIN_EVENT_STARTED,
  VIR_DOMAIN_EVENT_STARTED_BOOTED,
  VIR_DOMAIN_EVENT_STOPPED,
  VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
  VIR_DOMAIN_EVENT_SUSPENDED,
  VIR_DOMAIN_EVENT_SUSPENDED_PAUSED,
  VIR_DOMAIN_JOB_DATA_TOTAL,
  VIR_DOMAIN_JOB_NONE,
  VIR_DOMAIN_JOB_UNBOUNDED,
  VIR_DOMAIN_PAUSED,
  VIR_DOMAIN_RUNNING,
  VIR_DOMAIN_SHUTOFF,
  VIR_DOMAIN_START_PAUSED,
  VIR_DOMAIN_STATS_CPU_TOTAL,
  VIR_DOMAIN_STATS_STATE,
  VIR_DOMAIN_STATS_VCPU,
  VIR_MIGRATE_LIVE,
} from '../src/index.ts';
import { rejectionOf } from '../src/testing/index.ts';
import { guestXml, type LibvirtHost, startLibvirtHost, virshDominfo, waitFor } from './harness/index.ts';
import { connectFromHost } from './support/run-on-host.ts';

// The QEMU driver with real guests: diskless 64 MiB `qemu` (software emulated) guests on a libvirt
// host from deploy/dev/libvirt-host. virsh (libvirt's C client) double-checks what we observe.

let host: LibvirtHost;
let conn: LibvirtConnection;
const scratch = mkdtempSync(join(tmpdir(), 'cockpit-qemu-suite-'));

beforeAll(async () => {
  host = await startLibvirtHost();
  conn = await connect(host.unixUri);
}, 180_000);

afterAll(async () => {
  await conn?.close();
  await host?.stop();
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

/** Collects events in the background; `until` polls for one matching with a deadline. */
async function record(c: LibvirtConnection, uuid: string) {
  const ac = new AbortController();
  const stream = await c.domains.events({ signal: ac.signal });
  const seen: DomainEvent[] = [];
  let failure: unknown;
  const pump = (async () => {
    try {
      for await (const e of stream) if (e.domain.uuid === uuid) seen.push(e);
    } catch (err) {
      failure = err;
    }
  })();
  return {
    seen,
    until: (match: (e: DomainEvent) => boolean, what: string) =>
      waitFor(
        () => {
          if (failure !== undefined) throw failure;
          return seen.find(match);
        },
        { what, timeoutMs: 20_000, intervalMs: 10 },
      ),
    async stop() {
      ac.abort();
      await pump;
    },
  };
}

const lifecycle = (event: number, detail: number) => (e: DomainEvent) =>
  e.kind === 'lifecycle' && e.event === event && e.detail === detail;

async function defineGuest(c: LibvirtConnection, name: string): Promise<Domain> {
  return c.domains.defineXml(guestXml({ name, uuid: randomUUID() }));
}

describe('QEMU driver: a real guest', () => {
  it('connects over TCP with auth none as well as over the unix socket', async () => {
    const tcp = await connect(host.tcpUri);
    expect(await tcp.host.getHostname()).toBe(await conn.host.getHostname());
    expect(await tcp.host.getVersion()).toBeGreaterThan(0);
    // The QEMU host reports real node figures (the test driver has no memory stats).
    const mem = await tcp.host.getMemoryStats();
    expect(mem.total).toBeGreaterThan(0n);
    expect(Object.keys(await tcp.host.getCpuStats())).toEqual(
      expect.arrayContaining(['kernel', 'user', 'idle']),
    );
    await tcp.close();
  });

  it("qemu:///system and qemu:///system?mode=legacy reach the host's libvirtd from a process on the host", async () => {
    const name = `default-uri-${randomBytes(3).toString('hex')}`;
    const dom = await defineGuest(conn, name);
    try {
      for (const uri of ['qemu:///system', 'qemu:///system?mode=legacy']) {
        const report = await connectFromHost(host, uri);
        // The default socket on that host is its libvirtd: same hostname, and it knows our guest.
        expect(report).toMatchObject({ name: 'qemu:///system', hostname: host.name });
        expect(report.domains).toContain(name);
      }
    } finally {
      await conn.domains.undefine(dom);
    }
  }, 60_000);

  it('start, suspend, resume, reset, destroy: states, events (reboot on reset) and virsh agree', async () => {
    const dom = await defineGuest(conn, `life-${process.pid}`);
    const events = await record(conn, dom.uuid);
    const running = await conn.domains.create(dom);
    await events.until(lifecycle(VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED), 'started event');
    expect((await conn.domains.getState(running)).state).toBe(VIR_DOMAIN_RUNNING);
    expect((await virshDominfo(host.unixUri, dom.uuid)).State).toBe('running');

    const info = await conn.domains.getInfo(running);
    expect(info).toMatchObject({ state: VIR_DOMAIN_RUNNING, maxMemKiB: 65536n, nrVirtCpu: 1 });
    // The vCPU is really executing: CPU time grows.
    await waitFor(
      async () => ((await conn.domains.getInfo(running)).cpuTimeNs > info.cpuTimeNs ? true : undefined),
      {
        what: 'cpu time to grow',
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    );

    await conn.domains.suspend(running);
    await events.until(
      lifecycle(VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
      'suspended event',
    );
    expect((await conn.domains.getState(running)).state).toBe(VIR_DOMAIN_PAUSED);
    expect((await virshDominfo(host.unixUri, dom.uuid)).State).toBe('paused');
    await conn.domains.resume(running);
    await events.until(
      lifecycle(VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
      'resumed event',
    );

    // QEMU's RESET is reported by libvirt as a reboot event.
    await conn.domains.reset(running);
    await events.until((e) => e.kind === 'reboot', 'reboot event');

    // ACPI shutdown is accepted; the BIOS-only guest ignores it, so destroy it.
    await conn.domains.shutdown(running);
    await conn.domains.destroy(running);
    await events.until(
      lifecycle(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
      'stopped event',
    );
    expect((await conn.domains.getState(dom)).state).toBe(VIR_DOMAIN_SHUTOFF);
    await events.stop();

    const paused = await conn.domains.create(dom, VIR_DOMAIN_START_PAUSED);
    expect((await conn.domains.getState(paused)).state).toBe(VIR_DOMAIN_PAUSED);
    await conn.domains.destroy(paused);
    await conn.domains.undefine(dom);
  }, 90_000);

  it('bulk statistics and job information of a running guest', async () => {
    const dom = await conn.domains.create(await defineGuest(conn, `stats-${process.pid}`));
    const [rec] = await conn.domains.getAllStats(
      VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_VCPU,
      0,
      [dom],
    );
    expect(rec?.domain.uuid).toBe(dom.uuid);
    expect(rec?.stats['state.state']).toBe(VIR_DOMAIN_RUNNING);
    expect(rec?.params.find((p) => p.field === 'cpu.time')?.type).toBe('ullong');
    expect(rec?.stats['vcpu.current']).toBe(1);
    const all = await conn.domains.getAllStats(VIR_DOMAIN_STATS_STATE);
    expect(all.some((s) => s.domain.uuid === dom.uuid)).toBe(true);

    // No job running: libvirt says so, and aborting nothing is an invalid operation.
    expect((await conn.jobs.getInfo(dom)).type).toBe(VIR_DOMAIN_JOB_NONE);
    expect((await conn.jobs.getStats(dom)).type).toBe(VIR_DOMAIN_JOB_NONE);
    expect(isOperationInvalid(await rejectionOf(conn.jobs.abort(dom)))).toBe(true);

    // Migration tunables, read back through the generated stubs.
    await conn.migration.setMaxSpeed(dom, 5);
    const speed = await conn.remote.domainMigrateGetMaxSpeed({ dom: toRemoteDomain(dom), flags: 0 });
    expect(speed.bandwidth).toBe(5n);
    await conn.migration.setMaxDowntime(dom, 123);
    const downtime = await conn.remote.domainMigrateGetMaxDowntime({ dom: toRemoteDomain(dom), flags: 0 });
    expect(downtime.downtime).toBe(123n);

    await conn.domains.destroy(dom);
    await conn.domains.undefine(dom);
  }, 60_000);

  it('a throttled migration is a job we can watch and abort; the guest keeps running here', async () => {
    const target = await startLibvirtHost();
    try {
      // QEMU sends zero pages almost for free, so a diskless guest migrates in ~3 s even at 1 MiB/s.
      // A NIC whose option ROM is 32 MiB of random bytes (ROM is guest RAM that migrates) makes the
      // job last ~30 s at 1 MiB/s: a window to watch and abort that no machine load can close.
      const rom = join(scratch, 'noise.rom');
      writeFileSync(rom, randomBytes(32 * 1024 * 1024));
      const xml = guestXml({ name: `abort-${process.pid}`, uuid: randomUUID() }).replace(
        '</devices>',
        `<interface type='user'><model type='e1000'/><rom file='${rom}'/></interface></devices>`,
      );
      const dom = await conn.domains.create(await conn.domains.defineXml(xml));
      const migration = rejectionOf(
        conn.migration.toUri(
          dom,
          target.tcpUri,
          { bandwidthMiBs: 1, uri: `tcp://127.0.0.1:${target.migrationPorts.min}` },
          VIR_MIGRATE_LIVE,
          {
            timeoutMs: 120_000,
          },
        ),
      );
      const job = await waitFor(
        async () => {
          const j = await conn.jobs.getInfo(dom);
          return j.type === VIR_DOMAIN_JOB_UNBOUNDED && j.dataTotal > 0n ? j : undefined;
        },
        { what: 'migration job with data', timeoutMs: 30_000, intervalMs: 20 },
      );
      expect(job.dataTotal).toBeGreaterThan(0n);
      const stats = await conn.jobs.getStats(dom);
      expect(stats.type).toBe(VIR_DOMAIN_JOB_UNBOUNDED);
      expect(typeof stats.stats[VIR_DOMAIN_JOB_DATA_TOTAL]).toBe('bigint');

      await conn.jobs.abort(dom);
      const err = await migration;
      // "operation aborted: job 'migration out' canceled by client"
      expect(isOperationAborted(err)).toBe(true);
      await waitFor(
        async () => ((await conn.jobs.getInfo(dom)).type === VIR_DOMAIN_JOB_NONE ? true : undefined),
        {
          what: 'job to end',
          timeoutMs: 20_000,
        },
      );
      expect((await conn.domains.getState(dom)).state).toBe(VIR_DOMAIN_RUNNING);
      await conn.domains.destroy(dom);
      await conn.domains.undefine(dom);
    } finally {
      await target.stop();
    }
  }, 180_000);
});
