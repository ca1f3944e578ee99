import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  type DomainEvent,
  fromRemoteTypedParam,
  isAborted,
  isInterrupted,
  isInvalidArg,
  isLibvirtError,
  isNoDomain,
  isNoSupport,
  isOperationInvalid,
  LibvirtConnection,
  type TypedParam,
  toRemoteDomain,
  toRemoteTypedParam,
  VIR_DOMAIN_AFFECT_CONFIG,
  VIR_DOMAIN_BLKIO_WEIGHT,
  VIR_DOMAIN_EVENT_DEFINED,
  VIR_DOMAIN_EVENT_ID_LIFECYCLE,
  VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
  VIR_DOMAIN_EVENT_RESUMED,
  VIR_DOMAIN_EVENT_STARTED,
  VIR_DOMAIN_EVENT_STOPPED,
  VIR_DOMAIN_EVENT_SUSPENDED,
  VIR_DOMAIN_EVENT_UNDEFINED,
  VIR_DOMAIN_MEMORY_SOFT_LIMIT,
  VIR_DOMAIN_METADATA_DESCRIPTION,
  VIR_DOMAIN_PAUSED,
  VIR_DOMAIN_RUNNING,
  VIR_DOMAIN_SHUTOFF,
  VIR_DOMAIN_STATS_STATE,
  VIR_ERR_XML_DETAIL,
} from '../src/index.ts';
import { rejectionOf, within } from '../src/testing/index.ts';
import { freePortRange, waitFor } from './harness/index.ts';
import { type PrivateLibvirtd, startPrivateLibvirtd } from './support/private-libvirtd.ts';
import { pythonLibvirt } from './support/python-libvirt.ts';

let daemon: PrivateLibvirtd;
let uri: string;
let conn: LibvirtConnection;
let tcpPort: number;

beforeAll(async () => {
  tcpPort = await freePortRange(1);
  daemon = await startPrivateLibvirtd({ tcpPort });
  uri = daemon.uri('test');
  conn = await connect(uri);
}, 30_000);

afterAll(async () => {
  await conn?.close();
  await daemon?.stop();
});

// Connections a test opens beside `conn` are closed after it, whether it passed or not.
const extra = new Set<LibvirtConnection>();
const track = (c: LibvirtConnection) => {
  extra.add(c);
  return c;
};
afterEach(() => {
  for (const c of extra) c.rpc.close();
  extra.clear();
});

const domainXml = (name: string) => `<domain type='test'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>`;

/**
 * Takes `n` events, or fails after `timeoutMs` naming what did not arrive. The stream stays open
 * (its iterator is driven by hand, not by for-await, which would close it on break).
 */
async function take(
  events: AsyncIterator<DomainEvent>,
  n: number,
  timeoutMs = 5000,
  what = `${n} event(s)`,
): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  const deadline = AbortSignal.timeout(timeoutMs);
  const timedOut = new Promise<never>((_, reject) =>
    deadline.addEventListener('abort', () =>
      reject(new Error(`no ${what} within ${timeoutMs} ms (got ${JSON.stringify(out.map((e) => e.kind))})`)),
    ),
  );
  while (out.length < n) {
    const r = await Promise.race([events.next(), timedOut]);
    if (r.done) throw new Error(`stream ended after ${out.length} of ${what}`);
    out.push(r.value);
  }
  return out;
}

describe('host and node procedures, checked against python3-libvirt', () => {
  it('hostname and versions', async () => {
    const ref = pythonLibvirt(
      uri,
      'print(json.dumps([conn.getHostname(), conn.getLibVersion(), conn.getVersion()]))',
    );
    expect([
      await conn.host.getHostname(),
      await conn.host.getLibVersion(),
      await conn.host.getVersion(),
    ]).toEqual(ref);
  });

  it('capabilities', async () => {
    const caps = await conn.host.getCapabilities();
    expect(caps).toBe(pythonLibvirt(uri, 'print(json.dumps(conn.getCapabilities()))'));
    expect(caps).toContain('<capabilities>');
  });

  it('node info', async () => {
    const [model, memMiB, cpus, mhz, nodes, sockets, cores, threads] = pythonLibvirt(
      uri,
      'print(json.dumps(conn.getInfo()))',
    ) as number[];
    const info = await conn.host.getNodeInfo();
    expect(info).toEqual({
      model,
      memoryKiB: BigInt(memMiB ?? 0) * 1024n,
      cpus,
      mhz,
      nodes,
      sockets,
      cores,
      threads,
    });
  });

  it('node CPU stats and the typed error for memory stats the test driver lacks', async () => {
    const cpu = await conn.host.getCpuStats();
    const ref = pythonLibvirt(uri, 'print(json.dumps(sorted(conn.getCPUStats(-1).keys())))');
    expect(Object.keys(cpu).sort()).toEqual(ref);
    const err = await rejectionOf(conn.host.getMemoryStats());
    expect(isNoSupport(err)).toBe(true);
  });
});

describe('URIs', () => {
  it('test+tcp://127.0.0.1:PORT/default opens the same test driver as test+unix', async () => {
    const tcp = track(await connect(`test+tcp://127.0.0.1:${tcpPort}/default`));
    try {
      expect(tcp.name).toBe('test:///default');
      const name = 'over-tcp';
      const dom = await tcp.domains.defineXml(domainXml(name));
      // Defined over TCP, seen over the unix socket: one daemon, one driver.
      expect((await conn.domains.lookupByName(name)).uuid).toBe(dom.uuid);
      await conn.domains.undefine(dom);
      expect(isNoDomain(await rejectionOf(tcp.domains.lookupByUuid(dom.uuid)))).toBe(true);
    } finally {
      await tcp.close();
    }
  });
});

describe('domains on the test driver', () => {
  it('lists, looks up by name and UUID, reads info, state and XML', async () => {
    const all = await conn.domains.listAll();
    const ref = pythonLibvirt(
      uri,
      'print(json.dumps(sorted([d.UUIDString() for d in conn.listAllDomains()])))',
    );
    expect(all.map((d) => d.uuid).sort()).toEqual(ref);
    const byName = await conn.domains.lookupByName('test');
    expect(await conn.domains.lookupByUuid(byName.uuid)).toEqual(byName);
    const info = await conn.domains.getInfo(byName);
    const [state, maxMem, memory, nrVirtCpu] = pythonLibvirt(
      uri,
      'print(json.dumps(conn.lookupByName("test").info()[:4]))',
    ) as number[];
    expect(info).toMatchObject({
      state,
      maxMemKiB: BigInt(maxMem ?? 0),
      memoryKiB: BigInt(memory ?? 0),
      nrVirtCpu,
    });
    expect(await conn.domains.getState(byName)).toEqual({
      state: VIR_DOMAIN_RUNNING,
      reason: expect.any(Number),
    });
    const xml = await conn.domains.getXmlDesc(byName);
    expect(xml).toContain(`<uuid>${byName.uuid}</uuid>`);
  });

  it('define, start, suspend, resume, reboot, reset, shutdown, destroy, undefine', async () => {
    const dom = await conn.domains.defineXml(domainXml('lifecycle-1'));
    expect(dom.id).toBe(-1);
    expect((await conn.domains.getState(dom)).state).toBe(VIR_DOMAIN_SHUTOFF);
    const running = await conn.domains.create(dom);
    expect(running.id).toBeGreaterThan(0);
    expect((await conn.domains.getState(running)).state).toBe(VIR_DOMAIN_RUNNING);
    await conn.domains.suspend(running);
    expect((await conn.domains.getState(running)).state).toBe(VIR_DOMAIN_PAUSED);
    await conn.domains.resume(running);
    expect((await conn.domains.getState(running)).state).toBe(VIR_DOMAIN_RUNNING);
    await conn.domains.reboot(running);
    await conn.domains.reset(running);
    expect((await conn.domains.getState(running)).state).toBe(VIR_DOMAIN_RUNNING);
    await conn.domains.shutdown(running);
    expect((await conn.domains.getState(running)).state).toBe(VIR_DOMAIN_SHUTOFF);
    // The test driver refuses VIR_DOMAIN_START_PAUSED; the QEMU suite covers start flags.
    const again = await conn.domains.create(dom);
    await conn.domains.suspend(again);
    await conn.domains.destroy(again);
    expect((await conn.domains.getState(dom)).state).toBe(VIR_DOMAIN_SHUTOFF);
    await conn.domains.undefine(dom);
    expect(isNoDomain(await rejectionOf(conn.domains.lookupByName('lifecycle-1')))).toBe(true);
  });

  it('creates a transient domain from XML that vanishes when destroyed', async () => {
    const dom = await conn.domains.createXml(domainXml('transient-1'));
    expect((await conn.domains.getInfo(dom)).state).toBe(VIR_DOMAIN_RUNNING);
    await conn.domains.destroy(dom);
    expect(isNoDomain(await rejectionOf(conn.domains.lookupByUuid(dom.uuid)))).toBe(true);
  });

  it('typed parameters survive the daemon: set, read back exactly, and a wrong kind is refused', async () => {
    const dom = await conn.domains.defineXml(domainXml('typed-params-1'));
    const target = { dom: toRemoteDomain(dom), flags: VIR_DOMAIN_AFFECT_CONFIG };
    // ullong beyond 2^53 (a Number would round it) and uint, encoded by us, decoded by libvirt.
    const soft: TypedParam = { field: VIR_DOMAIN_MEMORY_SOFT_LIMIT, type: 'ullong', value: 2n ** 60n + 3n };
    await conn.remote.domainSetMemoryParameters({ ...target, params: [toRemoteTypedParam(soft)] });
    const weight: TypedParam = { field: VIR_DOMAIN_BLKIO_WEIGHT, type: 'uint', value: 777 };
    await conn.remote.domainSetBlkioParameters({ ...target, params: [toRemoteTypedParam(weight)] });
    // Encoded by libvirt, decoded by us (libvirt's two-step: count, then fetch).
    const readBack = async (get: 'domainGetMemoryParameters' | 'domainGetBlkioParameters') => {
      const { nparams } = await conn.remote[get]({ ...target, nparams: 0 });
      return (await conn.remote[get]({ ...target, nparams })).params.map(fromRemoteTypedParam);
    };
    expect(await readBack('domainGetMemoryParameters')).toContainEqual(soft);
    expect(await readBack('domainGetBlkioParameters')).toContainEqual(weight);
    // The daemon reads our type tag: the same field as a uint is an invalid argument.
    const wrongKind = toRemoteTypedParam({ field: VIR_DOMAIN_MEMORY_SOFT_LIMIT, type: 'uint', value: 1 });
    const err = await rejectionOf(conn.remote.domainSetMemoryParameters({ ...target, params: [wrongKind] }));
    expect(isInvalidArg(err)).toBe(true);
    await conn.domains.undefine(dom);
  });

  it('reports libvirt errors as typed LibvirtErrors', async () => {
    const bad = await rejectionOf(conn.domains.defineXml('<domain'));
    expect(isLibvirtError(bad) && bad.code === VIR_ERR_XML_DETAIL).toBe(true);
    const test = await conn.domains.lookupByName('test');
    const inactive = await conn.domains.defineXml(domainXml('inactive-1'));
    const err = await rejectionOf(conn.domains.destroy(inactive));
    await conn.domains.undefine(inactive);
    expect(isOperationInvalid(err)).toBe(true);
    expect(isLibvirtError(err) && err.codeName).toBe('VIR_ERR_OPERATION_INVALID');
    expect(isNoSupport(await rejectionOf(conn.jobs.getInfo(test)))).toBe(true);
  });

  it('bulk statistics come back as typed parameters per domain', async () => {
    const stats = await conn.domains.getAllStats(VIR_DOMAIN_STATS_STATE);
    const test = stats.find((s) => s.domain.name === 'test');
    expect(test?.stats['state.state']).toBe(VIR_DOMAIN_RUNNING);
    expect(test?.params.find((p) => p.field === 'state.state')?.type).toBe('int');
    const only = await conn.domains.getAllStats(0, 0, test ? [test.domain] : []);
    expect(only.map((s) => s.domain.name)).toEqual(['test']);
    expect(Object.keys(only[0]?.stats ?? {}).length).toBeGreaterThan(1);
  });
});

describe('several event streams of the same kind on one connection', () => {
  const registerLifecycleRaw = () =>
    conn.remote.connectDomainEventCallbackRegisterAny({ eventID: VIR_DOMAIN_EVENT_ID_LIFECYCLE, dom: null });

  it('both receive every event; the daemon callback lives until the last one leaves', async () => {
    const a = await conn.domains.events({ kinds: ['lifecycle'] });
    const b = await conn.domains.events({ kinds: ['lifecycle'] });
    // The daemon itself tracks one callback per event ID and domain on a connection: a second raw
    // registration beside ours is refused, which is why the streams share one.
    expect(isLibvirtError(await rejectionOf(registerLifecycleRaw()))).toBe(true);
    const dom = await conn.domains.defineXml(domainXml('fan-out-1'));
    const [fromA] = await take(a, 1);
    const [fromB] = await take(b, 1, 5000, 'a DEFINED event on the second stream');
    expect(
      [fromA, fromB].map((e) => e?.kind === 'lifecycle' && e.domain.uuid === dom.uuid && e.event),
    ).toEqual([VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED]);
    // One leaves; the other still hears the daemon.
    await a.return?.();
    await conn.domains.undefine(dom);
    const [later] = await take(b, 1, 5000, 'an UNDEFINED event after the first stream left');
    expect(later?.kind === 'lifecycle' && later.event).toBe(VIR_DOMAIN_EVENT_UNDEFINED);
    await b.return?.();
    // The last one gone, the daemon's callback is deregistered: a raw registration is accepted again.
    const { callbackID } = await waitFor(() => registerLifecycleRaw().catch(() => undefined), {
      timeoutMs: 3000,
      intervalMs: 20,
      what: 'the daemon to accept a lifecycle registration after both streams left',
    });
    await conn.remote.connectDomainEventCallbackDeregisterAny({ callbackID });
  });
});

describe('opening over a stream the caller already has', () => {
  it('a unix socket connected by the caller', async () => {
    const sock = netConnect({ path: daemon.socketPath });
    await once(sock, 'connect');
    const own = track(await LibvirtConnection.open(sock, 'test:///default'));
    expect(await own.host.getHostname()).toBe(await conn.host.getHostname());
    expect((await own.domains.lookupByName('test')).name).toBe('test');
    await own.close();
    expect(sock.destroyed).toBe(true);
  });

  it("an SSH-like pipe: a child process's stdin/stdout bridged to the daemon's socket", async () => {
    // What libvirt's ssh transport runs on the far side (`nc -U <socket>`), as a Node one-liner.
    const bridge = spawn(
      process.execPath,
      [
        '-e',
        'const s = require("node:net").connect(process.argv[1]); process.stdin.pipe(s); s.pipe(process.stdout);',
        daemon.socketPath,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const exited = once(bridge, 'exit');
    try {
      const { stdin, stdout } = bridge;
      if (stdin === null || stdout === null) throw new Error('no stdio pipes');
      const stream = Duplex.from({ readable: stdout, writable: stdin });
      const piped = track(await LibvirtConnection.open(stream, 'test:///default'));
      expect(piped.name).toBe('test:///default');
      const test = await piped.domains.lookupByName('test');
      expect((await piped.domains.getState(test)).state).toBe(VIR_DOMAIN_RUNNING);
      expect(await piped.host.getLibVersion()).toBe(await conn.host.getLibVersion());
      await piped.close();
      // Closing the connection closed the pipe, and the bridge ended with it.
      await within(exited, { withinMs: 3000, what: 'the bridge process to exit once the pipe closed' });
    } finally {
      if (bridge.exitCode === null) bridge.kill();
    }
  });
});

describe('events, concurrency, cancellation', () => {
  it('delivers lifecycle events with event and detail codes', async () => {
    const events = await conn.domains.events({ kinds: ['lifecycle'] });
    const dom = await conn.domains.defineXml(domainXml('events-1'));
    await conn.domains.create(dom);
    await conn.domains.suspend(dom);
    await conn.domains.resume(dom);
    await conn.domains.destroy(dom);
    await conn.domains.undefine(dom);
    const got = (await take(events, 6, 5000, 'six lifecycle events')).filter(
      (e) => e.domain.uuid === dom.uuid,
    );
    await events.return?.();
    expect(got.map((e) => (e.kind === 'lifecycle' ? e.event : -1))).toEqual([
      VIR_DOMAIN_EVENT_DEFINED,
      VIR_DOMAIN_EVENT_STARTED,
      VIR_DOMAIN_EVENT_SUSPENDED,
      VIR_DOMAIN_EVENT_RESUMED,
      VIR_DOMAIN_EVENT_STOPPED,
      VIR_DOMAIN_EVENT_UNDEFINED,
    ]);
  });

  it('delivers other event IDs (metadata change) through a generated stub call', async () => {
    const test = await conn.domains.lookupByName('test');
    const events = await conn.domains.events({
      otherEventIds: [VIR_DOMAIN_EVENT_ID_METADATA_CHANGE],
      domain: test,
    });
    await conn.remote.domainSetMetadata({
      dom: toRemoteDomain(test),
      type: VIR_DOMAIN_METADATA_DESCRIPTION,
      metadata: 'described by @cockpit/libvirt',
      key: null,
      uri: null,
      flags: 0,
    });
    const [event] = await take(events, 1, 5000, 'a metadata change event');
    await events.return?.();
    expect(event).toMatchObject({
      kind: 'other',
      eventId: VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
      name: 'DOMAIN_EVENT_CALLBACK_METADATA_CHANGE',
      domain: test,
      message: { type: VIR_DOMAIN_METADATA_DESCRIPTION },
    });
    expect(await conn.domains.getXmlDesc(test)).toContain(
      '<description>described by @cockpit/libvirt</description>',
    );
  });

  it('filters events by domain and stops delivering after return()', async () => {
    const a = await conn.domains.defineXml(domainXml('filter-a'));
    const b = await conn.domains.defineXml(domainXml('filter-b'));
    const onlyB = await conn.domains.events({ kinds: ['lifecycle'], domain: b });
    await conn.domains.create(a);
    await conn.domains.create(b);
    const [first] = await take(onlyB, 1);
    expect(first?.domain.uuid).toBe(b.uuid);
    await onlyB.return?.();
    expect((await onlyB.next()).done).toBe(true);
    for (const d of [a, b]) {
      await conn.domains.destroy(d);
      await conn.domains.undefine(d);
    }
  });

  it('keeps hundreds of calls in flight on one connection and routes every reply', async () => {
    const test = await conn.domains.lookupByName('test');
    const names = await Promise.all(Array.from({ length: 300 }, () => conn.domains.lookupByUuid(test.uuid)));
    expect(names.every((d) => d.name === 'test')).toBe(true);
    const mixed = await Promise.all([
      conn.host.getHostname(),
      conn.domains.getInfo(test),
      conn.host.getLibVersion(),
    ]);
    expect(mixed[2]).toBe(await conn.host.getLibVersion());
  });

  it('an aborted signal rejects the call with an aborted error, and the connection stays usable', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(isAborted(await rejectionOf(conn.host.getHostname({ signal: ac.signal })))).toBe(true);
    expect(typeof (await conn.host.getHostname())).toBe('string');
  });

  it('keepalive against the real daemon: pings answered, connection alive', async () => {
    const c = track(await connect(uri, { keepalive: { intervalMs: 100, count: 4 } }));
    const started = Date.now();
    while (Date.now() - started < 800) await c.host.getLibVersion();
    // Silence on our side while the daemon answers our pings: more pings than `count` (4), which
    // would be fatal if they went unanswered.
    const before = c.rpc.keepaliveStats.pongsReceived;
    await waitFor(() => (c.rpc.keepaliveStats.pongsReceived >= before + 6 ? true : undefined), {
      timeoutMs: 3000,
      intervalMs: 20,
      what: 'six keepalive pongs from libvirtd',
    });
    expect(c.isClosed).toBe(false);
    expect(await c.host.getHostname()).toBe(await conn.host.getHostname());
    await c.close();
  });

  it('closing rejects pending calls at once with an interrupted error', async () => {
    const c = track(await connect(uri));
    const pending = c.host.getCapabilities();
    c.rpc.close();
    const err = await rejectionOf(pending, { withinMs: 1000, what: 'closing to reject the pending call' });
    expect(isInterrupted(err)).toBe(true);
  });
});
