import { Duplex, PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isAborted, isClosed, isInterrupted, isProtocolError, LibvirtClientError } from '../errors.ts';
import { KEEPALIVE_PROC_PING, KEEPALIVE_PROC_PONG, KEEPALIVE_PROGRAM } from '../protocol/keepalive.gen.ts';
import {
  VIR_NET_CALL,
  VIR_NET_ERROR,
  VIR_NET_MESSAGE,
  VIR_NET_OK,
  VIR_NET_REPLY,
} from '../protocol/net.gen.ts';
import {
  REMOTE_PROC_CONNECT_GET_CAPABILITIES,
  REMOTE_PROC_CONNECT_GET_HOSTNAME,
} from '../protocol/remote-procedures.gen.ts';
import { REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION } from '../protocol/remote-types.gen.ts';
import type { XdrReader, XdrWriter } from '../xdr/index.ts';
import type { Logger } from './logger.ts';
import { encodePacket, type Packet, PacketDecoder } from './packet.ts';
import { RpcClient } from './rpc-client.ts';

// The RPC client's edges, driven byte by byte: the test is the daemon at the other end of an in-memory
// stream pair, so it can send what no well-behaved daemon sends. Written after mutation testing
// (docs/testing.md) showed these paths untested.

/** A client on one end of an in-memory duplex; the test holds the other end. */
function pair(options: ConstructorParameters<typeof RpcClient>[1] = {}) {
  const toDaemon = new PassThrough();
  const toClient = new PassThrough();
  const clientSide = Duplex.from({ readable: toClient, writable: toDaemon });
  const received: Packet[] = [];
  const decoder = new PacketDecoder();
  toDaemon.on('data', (chunk: Buffer) => received.push(...decoder.push(chunk)));
  const warn = vi.fn<Logger['warn']>();
  const debug = vi.fn<Logger['debug']>();
  const client = new RpcClient(clientSide, {
    keepalive: { intervalMs: 0 },
    logger: { warn, debug },
    ...options,
  });
  clients.push(client);
  const send = (header: Partial<Packet['header']>, body?: (w: XdrWriter) => void) =>
    toClient.write(
      encodePacket(
        {
          program: REMOTE_PROGRAM,
          version: REMOTE_PROTOCOL_VERSION,
          procedure: REMOTE_PROC_CONNECT_GET_HOSTNAME,
          type: VIR_NET_REPLY,
          serial: 1,
          status: VIR_NET_OK,
          ...header,
        },
        body,
      ),
    );
  return { client, clientSide, toClient, received, send, warn, debug };
}

const clients: RpcClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

const decString = (r: XdrReader) => r.string(1024);
const hostname = (client: RpcClient, opts = {}) =>
  client.callRemote(REMOTE_PROC_CONNECT_GET_HOSTNAME, undefined, null, decString, opts);

async function rejection(p: Promise<unknown>): Promise<LibvirtClientError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof LibvirtClientError) return err;
    throw err;
  }
  throw new Error('expected the call to reject, it resolved');
}

async function until(what: string, check: () => boolean): Promise<void> {
  await expect.poll(check, { timeout: 2000, interval: 5, message: what }).toBe(true);
}

describe('RpcClient edges', () => {
  it('a call whose signal has already fired is refused before anything is sent', async () => {
    const { client, received } = pair();
    const ac = new AbortController();
    ac.abort(new Error('gave up'));
    const err = await rejection(hostname(client, { signal: ac.signal }));
    expect(isAborted(err)).toBe(true);
    expect(err.message).toBe('call aborted before it was sent');
    expect((err.cause as Error).message).toBe('gave up');
    await new Promise((r) => setImmediate(r));
    expect(received).toHaveLength(0);
    expect(client.pendingCalls).toBe(0);
  });

  it('a reply that names another procedure is refused even when its body would decode', async () => {
    const { client, send, received } = pair();
    const call = hostname(client);
    await until('the call to reach the daemon', () => received.length === 1);
    send({ procedure: REMOTE_PROC_CONNECT_GET_CAPABILITIES, serial: received[0]?.header.serial }, (w) =>
      w.string('h', 16),
    );
    const err = await rejection(call);
    expect(isProtocolError(err)).toBe(true);
    expect(err.message).toMatch(/^reply for serial 1 names .*CAPABILITIES.*, expected .*HOSTNAME/);
  });

  it('a reply from another program with the same procedure number is refused too', async () => {
    const { client, send, received } = pair();
    const call = hostname(client);
    await until('the call to reach the daemon', () => received.length === 1);
    send({ program: REMOTE_PROGRAM + 1 }, (w) => w.string('h', 16));
    expect(isProtocolError(await rejection(call))).toBe(true);
  });

  it('a reply with bytes left over fails its call, naming the decoder error as the cause', async () => {
    const { client, send, received } = pair();
    const call = hostname(client);
    await until('the call to reach the daemon', () => received.length === 1);
    send({}, (w) => {
      w.string('h', 16);
      w.int(0);
    });
    const err = await rejection(call);
    expect(isProtocolError(err)).toBe(true);
    expect(err.message).toMatch(
      /^cannot decode reply to .*HOSTNAME.*: XdrError: 4 unexpected trailing bytes/,
    );
    expect((err.cause as Error).name).toBe('XdrError');
  });

  it('an error reply that does not decode fails its call as a protocol error', async () => {
    const { client, send, received } = pair();
    const call = hostname(client);
    await until('the call to reach the daemon', () => received.length === 1);
    send({ status: VIR_NET_ERROR }, (w) => w.int(1));
    const err = await rejection(call);
    expect(isProtocolError(err)).toBe(true);
    expect(err.message).toMatch(/^cannot decode error reply: XdrError: truncated XDR/);
    expect((err.cause as Error).name).toBe('XdrError');
    expect(client.isClosed).toBe(false);
  });

  it("arguments that do not encode are the caller's mistake: nothing is sent", async () => {
    const { client, received } = pair();
    const err = await rejection(
      client.callRemote(REMOTE_PROC_CONNECT_GET_HOSTNAME, 2 ** 40, (w, v: number) => w.int(v), null),
    );
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/^.*HOSTNAME.*: int out of range: 1099511627776$/);
    expect((err.cause as Error).name).toBe('XdrError');
    await new Promise((r) => setImmediate(r));
    expect(received).toHaveLength(0);
  });

  it('events go to the handler; without one, and packets of other types, are logged and dropped', async () => {
    const { client, send, debug, warn } = pair();
    send({ type: VIR_NET_MESSAGE, procedure: 315, serial: 0 }, (w) => w.int(7));
    await until('the event without handler to be logged', () => debug.mock.calls.length === 1);
    expect(debug).toHaveBeenCalledWith('event without handler', { procedure: 315 });
    const events: [number, string][] = [];
    client.onMessage((procedure, body) => events.push([procedure, body.toString('hex')]));
    send({ type: VIR_NET_MESSAGE, procedure: 316, serial: 0 }, (w) => w.int(8));
    await until('the event to reach the handler', () => events.length === 1);
    expect(events).toEqual([[316, '00000008']]);
    send({ type: VIR_NET_CALL, procedure: 9, serial: 4 });
    await until('the stray call to be logged', () => warn.mock.calls.length === 1);
    expect(warn).toHaveBeenCalledWith('ignoring packet of unexpected type', {
      type: VIR_NET_CALL,
      procedure: 9,
    });
    // A MESSAGE of another program is no event either.
    send({ type: VIR_NET_MESSAGE, program: REMOTE_PROGRAM + 1, serial: 0 });
    await until('the foreign message to be logged', () => warn.mock.calls.length === 2);
    expect(events).toHaveLength(1);
  });

  it("counts the peer's pongs and answers its pings, each apart", async () => {
    const { client, send, received } = pair();
    send({ program: KEEPALIVE_PROGRAM, version: 1, procedure: KEEPALIVE_PROC_PING, type: VIR_NET_MESSAGE });
    await until('the pong', () => received.some((p) => p.header.procedure === KEEPALIVE_PROC_PONG));
    expect(client.keepaliveStats).toEqual({ pingsSent: 0, pongsReceived: 0, pingsAnswered: 1 });
    send({ program: KEEPALIVE_PROGRAM, version: 1, procedure: KEEPALIVE_PROC_PONG, type: VIR_NET_MESSAGE });
    await until('the pong to be counted', () => client.keepaliveStats.pongsReceived === 1);
    expect(client.keepaliveStats.pingsAnswered).toBe(1);
    // A keepalive packet of another procedure is neither.
    send({ program: KEEPALIVE_PROGRAM, version: 1, procedure: 99, type: VIR_NET_MESSAGE });
    send({ program: KEEPALIVE_PROGRAM, version: 1, procedure: KEEPALIVE_PROC_PONG, type: VIR_NET_MESSAGE });
    await until('the second pong to be counted', () => client.keepaliveStats.pongsReceived === 2);
    expect(client.keepaliveStats).toEqual({ pingsSent: 0, pongsReceived: 2, pingsAnswered: 1 });
  });

  it('a transport error closes the connection and interrupts calls, naming the error', async () => {
    const { client, clientSide, received } = pair();
    const call = hostname(client, { timeoutMs: 0 });
    await until('the call to reach the daemon', () => received.length === 1);
    clientSide.destroy(new Error('ECONNRESET by test'));
    const err = await rejection(call);
    expect(isInterrupted(err)).toBe(true);
    expect(err.message).toBe('transport error: ECONNRESET by test');
    expect((err.cause as Error).message).toBe('ECONNRESET by test');
    expect(client.isClosed).toBe(true);
    expect(client.reason).toBe(err);
    const after = await rejection(hostname(client));
    expect(isClosed(after)).toBe(true);
    expect(after.message).toBe('connection is closed');
    expect(after.cause).toBe(err);
  });

  it('the peer ending the stream between packets interrupts calls; inside a packet it is a protocol error', async () => {
    const clean = pair();
    const call = hostname(clean.client, { timeoutMs: 0 });
    await until('the call to reach the daemon', () => clean.received.length === 1);
    clean.toClient.end();
    const err = await rejection(call);
    expect(isInterrupted(err)).toBe(true);
    expect(err.message).toBe('connection closed by peer');
    expect(clean.client.reason).toBe(err);

    const cut = pair();
    const cutCall = hostname(cut.client, { timeoutMs: 0 });
    await until('the call to reach the daemon', () => cut.received.length === 1);
    cut.toClient.write(Buffer.from('0000002000', 'hex'));
    cut.toClient.end();
    const cutErr = await rejection(cutCall);
    expect(isInterrupted(cutErr)).toBe(true);
    expect(cutErr.message).toBe(
      'connection closed: connection closed inside a packet (5 bytes of it received)',
    );
    expect(isProtocolError(cut.client.reason)).toBe(true);
  });

  it('close interrupts pending calls with its own reason; a later close changes nothing', async () => {
    const { client, received } = pair();
    const call = hostname(client, { timeoutMs: 0 });
    await until('the call to reach the daemon', () => received.length === 1);
    const reasons: Error[] = [];
    client.onClose((r) => reasons.push(r));
    client.close();
    client.close();
    const err = await rejection(call);
    expect(err.message).toBe('connection closed by client');
    expect(client.reason).toBe(err);
    expect(reasons).toEqual([err]);
    expect(await client.closed).toBe(err);
    // A listener added afterwards hears at once.
    client.onClose((r) => reasons.push(r));
    expect(reasons).toEqual([err, err]);
  });

  it('calls get the default deadline unless they name one', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { client } = pair({ callTimeoutMs: 5000 });
      // The deadline's timer is set when the call is made.
      const call = rejection(hostname(client));
      vi.advanceTimersByTime(4999);
      expect(client.pendingCalls).toBe(1);
      vi.advanceTimersByTime(1);
      expect((await call).code).toBe('TIMEOUT');
    } finally {
      vi.useRealTimers();
    }
  });
});
