import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEEPALIVE_PROC_PING, KEEPALIVE_PROC_PONG, KEEPALIVE_PROGRAM } from '../protocol/keepalive.gen.ts';
import { VIR_ERR_NO_SUPPORT, VIR_FROM_RPC } from '../protocol/libvirt-constants.gen.ts';
import { VIR_NET_CALL, VIR_NET_MESSAGE, VIR_NET_OK } from '../protocol/net.gen.ts';
import {
  REMOTE_PROC_AUTH_LIST,
  REMOTE_PROC_CONNECT_CLOSE,
  REMOTE_PROC_CONNECT_GET_HOSTNAME,
  REMOTE_PROC_CONNECT_OPEN,
  REMOTE_PROC_CONNECT_SUPPORTS_FEATURE,
} from '../protocol/remote-procedures.gen.ts';
import {
  encRemoteAuthListRet,
  encRemoteConnectGetHostnameRet,
  encRemoteConnectSupportsFeatureRet,
  REMOTE_AUTH_NONE,
} from '../protocol/remote-types.gen.ts';
import { PacketDecoder } from '../rpc/packet.ts';
import { type MockCall, MockSession } from './mock-session.ts';

export type MockHandler = (call: MockCall, session: MockSession) => void;

export interface MockServerOptions {
  /** Listen on a unix socket in a temp dir (default) or on TCP 127.0.0.1:random. */
  transport?: 'unix' | 'tcp';
}

/**
 * A small libvirt daemon impostor speaking the real framing. It answers the handshake (auth list →
 * none, connect open, supports feature, close, hostname "mock") and keepalive PINGs; everything else
 * gets VIR_ERR_NO_SUPPORT unless a test installs a handler with `on(proc, handler)`. Switches like
 * `answerKeepalive` and `silent` turn it into a daemon that has stopped answering.
 */
export class MockLibvirtServer {
  readonly sessions: MockSession[] = [];
  /** Reply to the client's keepalive PINGs. */
  answerKeepalive = true;
  /** Swallow every call without answering. */
  silent = false;
  private readonly handlers = new Map<number, MockHandler>();
  private readonly sessionWaiters: ((s: MockSession) => void)[] = [];

  private constructor(
    private readonly server: Server,
    /** The unix socket it listens on (null for TCP). */
    readonly socketPath: string | null,
    private readonly dir: string | null,
  ) {
    this.on(REMOTE_PROC_AUTH_LIST, (c, s) =>
      s.reply(c, (w) => encRemoteAuthListRet(w, { types: [REMOTE_AUTH_NONE] })),
    );
    this.on(REMOTE_PROC_CONNECT_OPEN, (c, s) => s.reply(c));
    this.on(REMOTE_PROC_CONNECT_CLOSE, (c, s) => s.reply(c));
    this.on(REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, (c, s) =>
      s.reply(c, (w) => encRemoteConnectSupportsFeatureRet(w, { supported: 1 })),
    );
    this.on(REMOTE_PROC_CONNECT_GET_HOSTNAME, (c, s) =>
      s.reply(c, (w) => encRemoteConnectGetHostnameRet(w, { hostname: 'mock' })),
    );
  }

  static async start(opts: MockServerOptions = {}): Promise<MockLibvirtServer> {
    const transport = opts.transport ?? 'unix';
    const dir = transport === 'unix' ? mkdtempSync(join(tmpdir(), 'mock-libvirtd-')) : null;
    const socketPath = dir === null ? null : join(dir, 'libvirt-sock');
    let self: MockLibvirtServer | null = null;
    const server = createServer((sock) => self?.accept(sock));
    self = new MockLibvirtServer(server, socketPath, dir);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (socketPath !== null) server.listen(socketPath, resolve);
      else server.listen(0, '127.0.0.1', resolve);
    });
    return self;
  }

  /** A URI our client (or any libvirt client) can open. */
  uri(driver = 'test', path = '/default'): string {
    if (this.socketPath !== null) return `${driver}+unix://${path}?socket=${this.socketPath}`;
    const addr = this.server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    return `${driver}+tcp://127.0.0.1:${port}${path}`;
  }

  /** Installs (or replaces) the handler of one remote-program procedure. */
  on(procedure: number, handler: MockHandler): void {
    this.handlers.set(procedure, handler);
  }

  /** Resolves with the next session to connect. */
  nextSession(): Promise<MockSession> {
    return new Promise((resolve) => this.sessionWaiters.push(resolve));
  }

  private accept(sock: Socket): void {
    const session = new MockSession(sock);
    this.sessions.push(session);
    for (const w of this.sessionWaiters.splice(0)) w(session);
    const decoder = new PacketDecoder();
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: Buffer) => {
      let packets: ReturnType<PacketDecoder['push']>;
      try {
        packets = decoder.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const p of packets) {
        session.received.push(p);
        this.dispatch(session, p.header, p.body);
      }
    });
  }

  private dispatch(session: MockSession, header: MockCall['header'], body: Buffer): void {
    if (header.program === KEEPALIVE_PROGRAM) {
      if (header.procedure === KEEPALIVE_PROC_PING && this.answerKeepalive) {
        session.send({
          ...header,
          procedure: KEEPALIVE_PROC_PONG,
          type: VIR_NET_MESSAGE,
          status: VIR_NET_OK,
        });
      }
      return;
    }
    if (header.type !== VIR_NET_CALL || this.silent) return;
    const call = { header, body };
    const handler = this.handlers.get(header.procedure);
    if (handler !== undefined) handler(call, session);
    else {
      session.replyError(call, {
        code: VIR_ERR_NO_SUPPORT,
        domain: VIR_FROM_RPC,
        message: `mock libvirtd: procedure ${header.procedure} not scripted`,
      });
    }
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.dir !== null) rmSync(this.dir, { recursive: true, force: true });
  }
}
