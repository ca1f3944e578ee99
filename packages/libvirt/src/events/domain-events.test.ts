import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type LibvirtConnection } from '../connection.ts';
import { isAborted, isEventOverflow, isInterrupted, isInvalidArg } from '../errors.ts';
import {
  VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
  VIR_DOMAIN_EVENT_ID_LIFECYCLE,
  VIR_DOMAIN_EVENT_STARTED,
  VIR_DOMAIN_EVENT_STOPPED,
  VIR_ERR_INVALID_ARG,
} from '../protocol/libvirt-constants.gen.ts';
import {
  REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY,
  REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_ADDED,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_JOB_COMPLETED,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT,
} from '../protocol/remote-procedures.gen.ts';
import {
  decRemoteConnectDomainEventCallbackDeregisterAnyArgs,
  decRemoteConnectDomainEventCallbackRegisterAnyArgs,
  encRemoteConnectDomainEventCallbackRegisterAnyRet,
  encRemoteDomainEventCallbackDeviceAddedMsg,
  encRemoteDomainEventCallbackJobCompletedMsg,
  encRemoteDomainEventCallbackLifecycleMsg,
  encRemoteDomainEventCallbackMigrationIterationMsg,
  encRemoteDomainEventCallbackRebootMsg,
} from '../protocol/remote-types.gen.ts';
import { type MockCall, MockLibvirtServer, type MockSession, rejectionOf } from '../testing/index.ts';
import type { DomainEventStream } from './domain-events.ts';

const dom = { name: 'vm1', uuid: Buffer.from('00112233445566778899aabbccddeeff', 'hex'), id: 3 };
const uuid = '00112233-4455-6677-8899-aabbccddeeff';

let server: MockLibvirtServer;
let conn: LibvirtConnection;
let session: MockSession;
let registered: { eventID: number; callbackID: number }[];
let deregistered: number[];

beforeEach(async () => {
  server = await MockLibvirtServer.start();
  registered = [];
  deregistered = [];
  server.on(REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, (call, s) => {
    const { eventID } = s.args(call, decRemoteConnectDomainEventCallbackRegisterAnyArgs);
    const callbackID = 100 + registered.length;
    registered.push({ eventID, callbackID });
    s.reply(call, (w) => encRemoteConnectDomainEventCallbackRegisterAnyRet(w, { callbackID }));
  });
  server.on(REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, (call, s) => {
    deregistered.push(s.args(call, decRemoteConnectDomainEventCallbackDeregisterAnyArgs).callbackID);
    s.reply(call);
  });
  const next = server.nextSession();
  conn = await connect(server.uri());
  session = await next;
});

afterEach(async () => {
  conn.rpc.close();
  await server.close();
});

/** The daemon's callback id of the latest registration of `eventID`. */
const idOf = (eventID: number) => registered.findLast((r) => r.eventID === eventID)?.callbackID ?? -1;

describe('domain events', () => {
  it('registers one callback per kind and decodes all four kinds', async () => {
    const events = await conn.domains.events();
    expect(registered.map((r) => r.eventID).sort((a, b) => a - b)).toEqual([0, 1, 20, 21]);
    session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, (w) =>
      encRemoteDomainEventCallbackLifecycleMsg(w, {
        callbackID: idOf(VIR_DOMAIN_EVENT_ID_LIFECYCLE),
        msg: { dom, event: VIR_DOMAIN_EVENT_STARTED, detail: 1 },
      }),
    );
    session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT, (w) =>
      encRemoteDomainEventCallbackRebootMsg(w, { callbackID: idOf(1), msg: { dom } }),
    );
    session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION, (w) =>
      encRemoteDomainEventCallbackMigrationIterationMsg(w, { callbackID: idOf(20), dom, iteration: 4 }),
    );
    session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_JOB_COMPLETED, (w) =>
      encRemoteDomainEventCallbackJobCompletedMsg(w, {
        callbackID: idOf(21),
        dom,
        params: [{ field: 'time_elapsed', value: { type: 4, ul: 1234n } }],
      }),
    );
    const got = [];
    for await (const e of events) {
      got.push(e);
      if (got.length === 4) break;
    }
    const domain = { name: 'vm1', uuid, id: 3 };
    expect(got).toEqual([
      { kind: 'lifecycle', domain, event: VIR_DOMAIN_EVENT_STARTED, detail: 1 },
      { kind: 'reboot', domain },
      { kind: 'migrationIteration', domain, iteration: 4 },
      {
        kind: 'jobCompleted',
        domain,
        params: [{ field: 'time_elapsed', type: 'ullong', value: 1234n }],
        stats: { time_elapsed: 1234n },
      },
    ]);
    // Leaving the loop deregistered every callback.
    await expect.poll(() => deregistered.sort()).toEqual(registered.map((r) => r.callbackID).sort());
  });

  it('delivers other event IDs as decoded generated messages', async () => {
    const events = await conn.domains.events({ otherEventIds: [VIR_DOMAIN_EVENT_ID_DEVICE_ADDED] });
    expect(registered.map((r) => r.eventID)).toEqual([VIR_DOMAIN_EVENT_ID_DEVICE_ADDED]);
    session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_ADDED, (w) =>
      encRemoteDomainEventCallbackDeviceAddedMsg(w, {
        callbackID: idOf(VIR_DOMAIN_EVENT_ID_DEVICE_ADDED),
        dom,
        devAlias: 'net0',
      }),
    );
    const { value } = await events.next();
    expect(value).toEqual({
      kind: 'other',
      eventId: VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
      procedure: REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_ADDED,
      name: 'DOMAIN_EVENT_CALLBACK_DEVICE_ADDED',
      domain: { name: 'vm1', uuid, id: 3 },
      message: { callbackID: idOf(VIR_DOMAIN_EVENT_ID_DEVICE_ADDED), dom, devAlias: 'net0' },
    });
    await events.return?.();
  });

  it('keeps an event that overtakes its registration reply', async () => {
    server.on(REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, (call, s) => {
      s.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, (w) =>
        encRemoteDomainEventCallbackLifecycleMsg(w, { callbackID: 7, msg: { dom, event: 2, detail: 0 } }),
      );
      s.reply(call, (w) => encRemoteConnectDomainEventCallbackRegisterAnyRet(w, { callbackID: 7 }));
    });
    const events = await conn.domains.events({ kinds: ['lifecycle'] });
    const first = await events.next();
    expect(first.value).toMatchObject({ kind: 'lifecycle', event: 2 });
  });

  it('ignores events for callbacks nobody holds, and ends streams on abort', async () => {
    const ac = new AbortController();
    const events = await conn.domains.events({ kinds: ['reboot'], signal: ac.signal });
    session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT, (w) =>
      encRemoteDomainEventCallbackRebootMsg(w, { callbackID: 999, msg: { dom } }),
    );
    const pending = events.next();
    ac.abort();
    expect((await pending).done).toBe(true);
    await expect.poll(() => deregistered).toEqual([idOf(1)]);
  });

  it('fails the stream with interrupted when the connection dies', async () => {
    const events = await conn.domains.events({ kinds: ['lifecycle'] });
    const pending = events.next();
    session.destroy();
    let err: unknown = null;
    try {
      await pending;
    } catch (e) {
      err = e;
    }
    expect(isInterrupted(err)).toBe(true);
  });

  it('a reader that falls behind loses the oldest events (counted), never the newest', async () => {
    const events = await conn.domains.events({ kinds: ['migrationIteration'], maxBuffered: 3 });
    for (let iteration = 1; iteration <= 5; iteration++) {
      session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION, (w) =>
        encRemoteDomainEventCallbackMigrationIterationMsg(w, { callbackID: idOf(20), dom, iteration }),
      );
    }
    await expect.poll(() => events.dropped).toBe(2);
    const got: number[] = [];
    for await (const e of events) {
      if (e.kind === 'migrationIteration') got.push(e.iteration);
      if (got.length === 3) break;
    }
    expect(got).toEqual([3, 4, 5]);
  });

  it("overflow 'fail' ends the stream with EVENT_OVERFLOW after the buffered events, and deregisters", async () => {
    const events = await conn.domains.events({ kinds: ['reboot'], maxBuffered: 2, overflow: 'fail' });
    for (let i = 0; i < 3; i++) {
      session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT, (w) =>
        encRemoteDomainEventCallbackRebootMsg(w, { callbackID: idOf(1), msg: { dom } }),
      );
    }
    await expect.poll(() => deregistered).toEqual([idOf(1)]);
    expect((await events.next()).value).toMatchObject({ kind: 'reboot' });
    expect((await events.next()).value).toMatchObject({ kind: 'reboot' });
    let err: unknown = null;
    try {
      await events.next();
    } catch (e) {
      err = e;
    }
    expect(isEventOverflow(err)).toBe(true);
  });
});

describe('several streams of the same events on one connection', () => {
  const lifecycleEvent = (event: number) =>
    session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, (w) =>
      encRemoteDomainEventCallbackLifecycleMsg(w, {
        callbackID: idOf(VIR_DOMAIN_EVENT_ID_LIFECYCLE),
        msg: { dom, event, detail: 0 },
      }),
    );
  const eventOf = async (s: DomainEventStream) => {
    const r = await s.next();
    return r.done ? null : r.value.kind === 'lifecycle' && r.value.event;
  };

  it('share one daemon callback, each gets every event, and the last to leave deregisters it', async () => {
    const a = await conn.domains.events({ kinds: ['lifecycle'] });
    const b = await conn.domains.events({ kinds: ['lifecycle'] });
    expect(registered).toHaveLength(1);
    lifecycleEvent(VIR_DOMAIN_EVENT_STARTED);
    expect([await eventOf(a), await eventOf(b)]).toEqual([
      VIR_DOMAIN_EVENT_STARTED,
      VIR_DOMAIN_EVENT_STARTED,
    ]);
    await a.return?.();
    lifecycleEvent(VIR_DOMAIN_EVENT_STOPPED);
    expect(await eventOf(b)).toBe(VIR_DOMAIN_EVENT_STOPPED);
    // Still registered while b listens: a's leaving sent nothing.
    expect(deregistered).toEqual([]);
    await b.return?.();
    await expect.poll(() => deregistered).toEqual([idOf(VIR_DOMAIN_EVENT_ID_LIFECYCLE)]);
  });

  it('streams opened at the same time wait for the one registration', async () => {
    const [a, b] = await Promise.all([
      conn.domains.events({ kinds: ['lifecycle'] }),
      conn.domains.events({ kinds: ['lifecycle', 'reboot'] }),
    ]);
    expect(registered.map((r) => r.eventID).sort()).toEqual([VIR_DOMAIN_EVENT_ID_LIFECYCLE, 1]);
    lifecycleEvent(VIR_DOMAIN_EVENT_STARTED);
    expect([await eventOf(a), await eventOf(b)]).toEqual([
      VIR_DOMAIN_EVENT_STARTED,
      VIR_DOMAIN_EVENT_STARTED,
    ]);
  });

  it('a domain filter is its own registration, shared whatever the UUID spelling', async () => {
    const all = await conn.domains.events({ kinds: ['lifecycle'] });
    const one = await conn.domains.events({ kinds: ['lifecycle'], domain: { name: 'vm1', uuid, id: 3 } });
    const same = await conn.domains.events({
      kinds: ['lifecycle'],
      domain: { name: 'vm1', uuid: uuid.toUpperCase().replace(/-/g, ''), id: 3 },
    });
    expect(registered).toHaveLength(2);
    await Promise.all([all.return?.(), one.return?.(), same.return?.()]);
    await expect.poll(() => deregistered.length).toBe(2);
  });

  it('a stream opened while the last one is being deregistered registers again after it', async () => {
    const held: MockCall[] = [];
    server.on(REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, (call) => held.push(call));
    const first = await conn.domains.events({ kinds: ['lifecycle'] });
    await first.return?.();
    await expect.poll(() => held.length).toBe(1);
    const second = conn.domains.events({ kinds: ['lifecycle'] });
    // The daemon may run concurrent calls in any order: registering before the deregistration is
    // answered could meet "event callback already tracked". A round trip after the client had every
    // chance to send the registration shows that it did not.
    await new Promise((resolve) => setImmediate(resolve));
    expect(await conn.host.getHostname()).toBe('mock');
    expect(registered).toHaveLength(1);
    session.reply(held[0] as MockCall);
    const stream = await second;
    expect(registered).toHaveLength(2);
    lifecycleEvent(VIR_DOMAIN_EVENT_STARTED);
    expect(await eventOf(stream)).toBe(VIR_DOMAIN_EVENT_STARTED);
  });

  it('a refused registration fails every stream waiting for it; the next one tries again', async () => {
    server.on(REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, (call, s) =>
      s.replyError(call, { code: VIR_ERR_INVALID_ARG, message: 'refused' }),
    );
    const errs = await Promise.all([
      rejectionOf(conn.domains.events({ kinds: ['reboot'] })),
      rejectionOf(conn.domains.events({ kinds: ['reboot'] })),
    ]);
    expect(errs.map(isInvalidArg)).toEqual([true, true]);
    server.on(REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, (call, s) =>
      s.reply(call, (w) => encRemoteConnectDomainEventCallbackRegisterAnyRet(w, { callbackID: 55 })),
    );
    const stream = await conn.domains.events({ kinds: ['reboot'] });
    session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT, (w) =>
      encRemoteDomainEventCallbackRebootMsg(w, { callbackID: 55, msg: { dom } }),
    );
    expect((await stream.next()).value).toMatchObject({ kind: 'reboot' });
  });

  it('a signal that fires while waiting for the registration aborts that stream only', async () => {
    const held: MockCall[] = [];
    server.on(REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, (call) => held.push(call));
    const ac = new AbortController();
    const aborted = rejectionOf(conn.domains.events({ kinds: ['lifecycle'], signal: ac.signal }));
    const kept = conn.domains.events({ kinds: ['lifecycle'] });
    await expect.poll(() => held.length).toBe(1);
    ac.abort();
    expect(isAborted(await aborted)).toBe(true);
    session.reply(held[0] as MockCall, (w) =>
      encRemoteConnectDomainEventCallbackRegisterAnyRet(w, { callbackID: 9 }),
    );
    const stream = await kept;
    session.event(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, (w) =>
      encRemoteDomainEventCallbackLifecycleMsg(w, { callbackID: 9, msg: { dom, event: 2, detail: 0 } }),
    );
    expect(await eventOf(stream)).toBe(2);
    expect(deregistered).toEqual([]);
  });
});
