import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { connect, type LibvirtConnection } from '../connection.ts';
import {
  isAborted,
  isAuthUnsupported,
  isClosed,
  isInterrupted,
  isKeepaliveTimeout,
  isLibvirtError,
  isNoDomain,
  isProtocolError,
  isTimeout,
  LibvirtClientError,
} from '../errors.ts';
import { KEEPALIVE_PROC_PONG, KEEPALIVE_PROGRAM } from '../protocol/keepalive.gen.ts';
import { VIR_ERR_NO_DOMAIN, VIR_FROM_QEMU } from '../protocol/libvirt-constants.gen.ts';
import { VIR_NET_REPLY } from '../protocol/net.gen.ts';
import {
  REMOTE_PROC_AUTH_LIST,
  REMOTE_PROC_AUTH_POLKIT,
  REMOTE_PROC_CONNECT_GET_CAPABILITIES,
  REMOTE_PROC_CONNECT_GET_HOSTNAME,
  REMOTE_PROC_CONNECT_GET_LIB_VERSION,
  REMOTE_PROC_CONNECT_OPEN,
} from '../protocol/remote-procedures.gen.ts';
import {
  encRemoteAuthListRet,
  encRemoteAuthPolkitRet,
  encRemoteConnectGetHostnameRet,
  encRemoteConnectGetLibVersionRet,
  REMOTE_AUTH_POLKIT,
  REMOTE_AUTH_SASL,
} from '../protocol/remote-types.gen.ts';
import { type MockCall, MockLibvirtServer, type MockSession, rejectionOf } from '../testing/index.ts';
import type { Logger } from './logger.ts';

let server: MockLibvirtServer;
let conn: LibvirtConnection | null = null;

beforeEach(async () => {
  server = await MockLibvirtServer.start();
});

afterEach(async () => {
  conn?.rpc.close();
  conn = null;
  await server.close();
});

type LogFn = Logger['warn'];
function spyLogger() {
  return { warn: vi.fn<LogFn>(), debug: vi.fn<LogFn>() };
}

/** Holds calls to `proc` instead of answering, so tests decide what the daemon does next. */
function hold(proc: number): MockCall[] {
  const held: MockCall[] = [];
  server.on(proc, (c) => held.push(c));
  return held;
}

/** Waits for `cond` (vitest's poll: a deadline, not a sleep); a failure names `what` did not happen. */
async function until(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  await expect
    .poll(cond, { timeout: timeoutMs, interval: 5, message: `${what} (waited ${timeoutMs} ms)` })
    .toBe(true);
}

async function open(
  opts: Parameters<typeof connect>[1] = {},
): Promise<{ c: LibvirtConnection; s: MockSession }> {
  const session = server.nextSession();
  conn = await connect(server.uri(), opts);
  return { c: conn, s: await session };
}

describe('RPC client against the mock daemon', () => {
  it('handshakes (auth list, open, keepalive feature) and sends the stripped name', async () => {
    const { c, s } = await open();
    expect(await c.host.getHostname()).toBe('mock');
    expect(s.received.map((p) => p.header.procedure).slice(0, 3)).toEqual([66, 1, 60]);
    expect(c.name).toBe('test:///default');
  });

  it('ignores a reply with an unknown serial (logged), then routes the real one', async () => {
    const logger = spyLogger();
    const held = hold(REMOTE_PROC_CONNECT_GET_HOSTNAME);
    const { c, s } = await open({ logger });
    const p = c.host.getHostname();
    await until(() => held.length === 1, 'the daemon to receive the call');
    const call = held[0] as MockCall;
    s.reply(call, (w) => encRemoteConnectGetHostnameRet(w, { hostname: 'stray' }), { serial: 99_999 });
    s.reply(call, (w) => encRemoteConnectGetHostnameRet(w, { hostname: 'right' }));
    expect(await p).toBe('right');
    expect(logger.warn).toHaveBeenCalledWith(
      'ignoring reply with unknown serial',
      expect.objectContaining({ serial: 99_999 }),
    );
  });

  it('routes many interleaved replies by serial, answered in reverse order', async () => {
    const held = hold(REMOTE_PROC_CONNECT_GET_LIB_VERSION);
    const { c, s } = await open();
    const calls = Array.from({ length: 50 }, () => c.host.getLibVersion());
    await until(() => held.length === 50, 'the daemon to receive 50 calls');
    for (const call of [...held].reverse()) {
      s.reply(call, (w) => encRemoteConnectGetLibVersionRet(w, { libVer: BigInt(call.header.serial) }));
    }
    const got = await Promise.all(calls);
    expect(got).toEqual(held.map((h) => h.header.serial));
  });

  it('an oversized packet closes the connection with a protocol error; pending calls are interrupted', async () => {
    hold(REMOTE_PROC_CONNECT_GET_CAPABILITIES);
    const { c, s } = await open();
    const p = c.host.getCapabilities();
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(32 * 1024 * 1024 + 1);
    s.sendRaw(huge);
    const err = await rejectionOf(p);
    expect(isInterrupted(err)).toBe(true);
    expect(isProtocolError((err as LibvirtClientError).cause)).toBe(true);
    expect(isProtocolError(await c.closed)).toBe(true);
  });

  it('honours a smaller maxPacketBytes', async () => {
    const { c, s } = await open({ maxPacketBytes: 1024 });
    s.send({ program: 1, version: 1, procedure: 1, type: 2, serial: 0, status: 0 }, (w) =>
      w.opaqueFixed(Buffer.alloc(2000), 2000),
    );
    expect(isProtocolError(await c.closed)).toBe(true);
  });

  it('a packet cut short by the daemon closing is a protocol error', async () => {
    const held = hold(REMOTE_PROC_CONNECT_GET_HOSTNAME);
    const { c, s } = await open();
    const p = c.host.getHostname();
    await until(() => held.length === 1, 'the daemon to receive the call');
    const whole = Buffer.alloc(100);
    whole.writeUInt32BE(100);
    s.sendRaw(whole.subarray(0, 40));
    await s.end();
    const err = await rejectionOf(p);
    expect(isInterrupted(err)).toBe(true);
    expect(isProtocolError(await c.closed)).toBe(true);
  });

  it('a daemon that stops answering is declared dead by keepalive; calls reject at once', async () => {
    const { c } = await open({ keepalive: { intervalMs: 40, count: 2 } });
    server.silent = true;
    server.answerKeepalive = false;
    const started = Date.now();
    const err = await rejectionOf(c.host.getHostname({ timeoutMs: 0 }), {
      withinMs: 2000,
      what: 'keepalive to declare the silent daemon dead and interrupt the call',
    });
    const elapsed = Date.now() - started;
    expect(isInterrupted(err)).toBe(true);
    expect(isKeepaliveTimeout((err as LibvirtClientError).cause)).toBe(true);
    expect(((err as LibvirtClientError).cause as Error).message).toMatch(
      /^peer sent nothing for \d+ ms despite keepalive pings$/,
    );
    const reasons: Error[] = [];
    c.onClose((reason) => reasons.push(reason));
    expect(reasons.map(isKeepaliveTimeout)).toEqual([true]);
    // Exactly `count` pings went unanswered before the verdict.
    expect(c.rpc.keepaliveStats).toMatchObject({ pingsSent: 2, pongsReceived: 0 });
    // Dead after `count` unanswered pings plus one interval: ~120 ms, well before any call deadline.
    expect(elapsed).toBeGreaterThanOrEqual(80);
    expect(elapsed).toBeLessThan(1500);
    expect(isClosed(await rejectionOf(c.host.getHostname()))).toBe(true);
  });

  it('answered pings keep a quiet connection alive; daemon pings get pongs', async () => {
    const { c, s } = await open({ keepalive: { intervalMs: 60, count: 4 } });
    await until(
      () => s.received.filter((p) => p.header.program === KEEPALIVE_PROGRAM).length >= 5,
      'five keepalive pings from the client',
    );
    // More pings than `count` were needed, each answered, and the connection lives on.
    await until(() => c.rpc.keepaliveStats.pongsReceived >= 5, 'five pongs counted by the client');
    expect(c.isClosed).toBe(false);
    s.ping();
    await until(
      () =>
        s.received.some(
          (p) => p.header.program === KEEPALIVE_PROGRAM && p.header.procedure === KEEPALIVE_PROC_PONG,
        ),
      "the client's pong to the daemon's ping",
    );
    expect(c.rpc.keepaliveStats.pingsAnswered).toBe(1);
  });

  it('a socket closed mid-call rejects every pending call at once with interrupted', async () => {
    const held = hold(REMOTE_PROC_CONNECT_GET_HOSTNAME);
    const { c, s } = await open();
    const calls = Array.from({ length: 5 }, () =>
      rejectionOf(c.host.getHostname({ timeoutMs: 0 }), {
        withinMs: 2000,
        what: 'the closed socket to interrupt the pending call',
      }),
    );
    await until(() => held.length === 5, 'the daemon to receive five calls');
    s.destroy();
    const errs = await Promise.all(calls);
    expect(errs.every(isInterrupted)).toBe(true);
    expect(c.rpc.pendingCalls).toBe(0);
  });

  it('an abort signal rejects the call; its late reply is ignored quietly', async () => {
    const logger = spyLogger();
    const held = hold(REMOTE_PROC_CONNECT_GET_HOSTNAME);
    const { c, s } = await open({ logger });
    const ac = new AbortController();
    const p = c.host.getHostname({ signal: ac.signal });
    await until(() => held.length === 1, 'the daemon to receive the call');
    ac.abort();
    expect(isAborted(await rejectionOf(p, { withinMs: 1000, what: 'the abort to reject the call' }))).toBe(
      true,
    );
    s.reply(held[0] as MockCall, (w) => encRemoteConnectGetHostnameRet(w, { hostname: 'late' }));
    server.on(REMOTE_PROC_CONNECT_GET_HOSTNAME, (call, sess) =>
      sess.reply(call, (w) => encRemoteConnectGetHostnameRet(w, { hostname: 'next' })),
    );
    expect(await c.host.getHostname()).toBe('next');
    expect(logger.warn).not.toHaveBeenCalled();
    expect(logger.debug).toHaveBeenCalledWith('late reply to abandoned call', {
      serial: (held[0] as MockCall).header.serial,
    });
  });

  it('a deadline rejects with a timeout and leaves the connection usable', async () => {
    hold(REMOTE_PROC_CONNECT_GET_CAPABILITIES);
    const { c } = await open();
    const started = Date.now();
    const deadline = { withinMs: 2000, what: 'the 50 ms deadline to reject the call' };
    expect(isTimeout(await rejectionOf(c.host.getCapabilities({ timeoutMs: 50 }), deadline))).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(await c.host.getHostname()).toBe('mock');
  });

  it('decodes remote_error into a LibvirtError with code, domain, level and strings', async () => {
    server.on(REMOTE_PROC_CONNECT_GET_HOSTNAME, (call, s) =>
      s.replyError(call, { code: VIR_ERR_NO_DOMAIN, domain: VIR_FROM_QEMU, message: 'no domain', str1: 'x' }),
    );
    const { c } = await open();
    const err = await rejectionOf(c.host.getHostname());
    expect(isNoDomain(err)).toBe(true);
    expect(
      isLibvirtError(err) && [
        err.procedure,
        err.code,
        err.domain,
        err.level,
        err.str1,
        err.codeName,
        err.domainName,
      ],
    ).toEqual([
      REMOTE_PROC_CONNECT_GET_HOSTNAME,
      VIR_ERR_NO_DOMAIN,
      VIR_FROM_QEMU,
      2,
      'x',
      'VIR_ERR_NO_DOMAIN',
      'VIR_FROM_QEMU',
    ]);
  });

  it('a reply whose body does not decode fails that call only', async () => {
    server.on(REMOTE_PROC_CONNECT_GET_HOSTNAME, (call, s) => s.reply(call, (w) => w.uint(1_000_000)));
    const { c } = await open();
    expect(isProtocolError(await rejectionOf(c.host.getHostname()))).toBe(true);
    expect(c.isClosed).toBe(false);
    server.on(REMOTE_PROC_CONNECT_GET_HOSTNAME, (call, s) =>
      s.reply(call, (w) => {
        encRemoteConnectGetHostnameRet(w, { hostname: 'h' });
        w.int(0);
      }),
    );
    expect(isProtocolError(await rejectionOf(c.host.getHostname()))).toBe(true);
  });

  it('a reply naming another procedure is refused', async () => {
    server.on(REMOTE_PROC_CONNECT_GET_HOSTNAME, (call, s) =>
      s.send({ ...call.header, procedure: REMOTE_PROC_CONNECT_GET_CAPABILITIES, type: VIR_NET_REPLY }),
    );
    const { c } = await open();
    expect(isProtocolError(await rejectionOf(c.host.getHostname()))).toBe(true);
  });

  it('authenticates with polkit when that is what the daemon offers', async () => {
    server.on(REMOTE_PROC_AUTH_LIST, (c, s) =>
      s.reply(c, (w) => encRemoteAuthListRet(w, { types: [REMOTE_AUTH_POLKIT] })),
    );
    server.on(REMOTE_PROC_AUTH_POLKIT, (c, s) =>
      s.reply(c, (w) => encRemoteAuthPolkitRet(w, { complete: 1 })),
    );
    const { c, s } = await open();
    expect(s.received.map((p) => p.header.procedure).slice(0, 3)).toEqual([
      REMOTE_PROC_AUTH_LIST,
      REMOTE_PROC_AUTH_POLKIT,
      REMOTE_PROC_CONNECT_OPEN,
    ]);
    expect(await c.host.getHostname()).toBe('mock');
  });

  it('refuses a daemon that demands SASL, and closes the socket', async () => {
    server.on(REMOTE_PROC_AUTH_LIST, (c, s) =>
      s.reply(c, (w) => encRemoteAuthListRet(w, { types: [REMOTE_AUTH_SASL] })),
    );
    const session = server.nextSession();
    let err: unknown = null;
    try {
      await connect(server.uri());
    } catch (e) {
      err = e;
    }
    expect(isAuthUnsupported(err)).toBe(true);
    const s = await session;
    await until(() => s.socket.destroyed || s.socket.readableEnded, 'the client to close the refused socket');
  });

  it('dialing a socket nobody listens on is a dial error', async () => {
    const err = await rejectionOf(connect('test+unix:///default?socket=/nonexistent/libvirt-sock'));
    expect(err instanceof LibvirtClientError && err.code).toBe('DIAL');
  });

  it('works over TCP too', async () => {
    const tcp = await MockLibvirtServer.start({ transport: 'tcp' });
    const c = await connect(tcp.uri());
    expect(await c.host.getHostname()).toBe('mock');
    await c.close();
    await tcp.close();
  });
});
