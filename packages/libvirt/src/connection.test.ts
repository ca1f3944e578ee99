import { connect as netConnect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LibvirtConnection } from './connection.ts';
import { isAuthUnsupported, isInvalidArgument } from './errors.ts';
import { VIR_CONNECT_RO } from './protocol/libvirt-constants.gen.ts';
import {
  REMOTE_PROC_AUTH_LIST,
  REMOTE_PROC_CONNECT_OPEN,
  REMOTE_PROC_CONNECT_SUPPORTS_FEATURE,
} from './protocol/remote-procedures.gen.ts';
import {
  decRemoteConnectOpenArgs,
  encRemoteAuthListRet,
  REMOTE_AUTH_SASL,
} from './protocol/remote-types.gen.ts';
import { MockLibvirtServer, type MockSession, rejectionOf } from './testing/index.ts';

let server: MockLibvirtServer;
const opened: LibvirtConnection[] = [];

beforeEach(async () => {
  server = await MockLibvirtServer.start();
});

afterEach(async () => {
  for (const c of opened.splice(0)) c.rpc.close();
  await server.close();
});

/** A unix socket to the mock daemon, connected by the test itself. */
function ownSocket() {
  const sock = netConnect({ path: server.socketPath ?? '' });
  return new Promise<typeof sock>((resolve, reject) => {
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

async function openOwn(opts: Parameters<typeof LibvirtConnection.open>[2] = {}) {
  const session = server.nextSession();
  const conn = await LibvirtConnection.open(await ownSocket(), 'qemu:///system', opts);
  opened.push(conn);
  return { conn, s: await session };
}

const procedures = (s: MockSession) => s.received.map((p) => p.header.procedure);

describe('LibvirtConnection.open over a stream the caller already has', () => {
  it('handshakes on it and opens the name given, with keepalive asked for', async () => {
    const { conn, s } = await openOwn();
    expect(conn.name).toBe('qemu:///system');
    expect(procedures(s)).toEqual([
      REMOTE_PROC_AUTH_LIST,
      REMOTE_PROC_CONNECT_OPEN,
      REMOTE_PROC_CONNECT_SUPPORTS_FEATURE,
    ]);
    const open = s.received[1];
    expect(open && s.args(open, decRemoteConnectOpenArgs)).toEqual({ name: 'qemu:///system', flags: 0 });
    expect(await conn.host.getHostname()).toBe('mock');
  });

  it('readOnly sends VIR_CONNECT_RO; keepalive off skips the feature question', async () => {
    const { s } = await openOwn({ readOnly: true, keepalive: { intervalMs: 0 } });
    expect(procedures(s)).toEqual([REMOTE_PROC_AUTH_LIST, REMOTE_PROC_CONNECT_OPEN]);
    const open = s.received[1];
    expect(open && s.args(open, decRemoteConnectOpenArgs).flags).toBe(VIR_CONNECT_RO);
  });

  it('a failed handshake destroys the stream it was given', async () => {
    server.on(REMOTE_PROC_AUTH_LIST, (c, s) =>
      s.reply(c, (w) => encRemoteAuthListRet(w, { types: [REMOTE_AUTH_SASL] })),
    );
    const sock = await ownSocket();
    expect(isAuthUnsupported(await rejectionOf(LibvirtConnection.open(sock, 'test:///default')))).toBe(true);
    expect(sock.destroyed).toBe(true);
  });
});

describe('arguments the protocol cannot carry are refused before anything is sent', () => {
  /** Everything the client sent so far has reached the daemon once a later call is answered. */
  async function sentAfter(conn: LibvirtConnection, s: MockSession, f: () => Promise<unknown>) {
    const before = s.received.length;
    const err = await rejectionOf(f());
    expect(await conn.host.getHostname()).toBe('mock');
    // Only the hostname call reached the daemon.
    return { err, sent: s.received.length - before - 1 };
  }

  it('a UUID that is not one', async () => {
    const { conn, s } = await openOwn();
    for (const uuid of ['not-a-uuid', '00112233-4455-6677-8899-aabbccddeeff0', '']) {
      const { err, sent } = await sentAfter(conn, s, () => conn.domains.lookupByUuid(uuid));
      expect([isInvalidArgument(err), sent], uuid).toEqual([true, 0]);
    }
    const bad = { name: 'x', uuid: 'zz', id: 1 };
    const { err, sent } = await sentAfter(conn, s, () => conn.domains.getInfo(bad));
    expect([isInvalidArgument(err), sent]).toEqual([true, 0]);
  });

  it('integers that are not integers or out of their XDR range', async () => {
    const { conn, s } = await openOwn();
    const dom = { name: 'x', uuid: '00112233-4455-6677-8899-aabbccddeeff', id: 1 };
    const calls: [string, () => Promise<unknown>][] = [
      ['uint flags 1.5', () => conn.domains.create(dom, 1.5)],
      ['uint flags -1', () => conn.domains.destroy(dom, -1)],
      ['int cpuNum 2^31', () => conn.host.getCpuStats(2 ** 31)],
      ['hyper downtime 0.5', () => conn.migration.setMaxDowntime(dom, 0.5)],
      ['uhyper bandwidth NaN', () => conn.migration.setMaxSpeed(dom, Number.NaN)],
      ['uhyper bandwidth -1n', () => conn.migration.setMaxSpeed(dom, -1n)],
      [
        'migrate bandwidth 1.5',
        () => conn.migration.toUri(dom, 'qemu+tcp://h/system', { bandwidthMiBs: 1.5 }, 0),
      ],
      [
        'typed llong 0.5',
        () =>
          conn.migration.perform3Params(
            dom,
            null,
            [{ field: 'x', type: 'llong', value: 0.5 as unknown as bigint }],
            0,
          ),
      ],
    ];
    for (const [what, call] of calls) {
      const { err, sent } = await sentAfter(conn, s, call);
      expect([isInvalidArgument(err), sent], what).toEqual([true, 0]);
    }
  });

  it('arguments too large for one packet', async () => {
    const { conn, s } = await openOwn({ maxPacketBytes: 4096 });
    const { err, sent } = await sentAfter(conn, s, () => conn.domains.defineXml('x'.repeat(5000)));
    expect([isInvalidArgument(err), sent]).toEqual([true, 0]);
  });
});
