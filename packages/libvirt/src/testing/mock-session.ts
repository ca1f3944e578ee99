import type { Socket } from 'node:net';
import {
  KEEPALIVE_PROC_PING,
  KEEPALIVE_PROGRAM,
  KEEPALIVE_PROTOCOL_VERSION,
} from '../protocol/keepalive.gen.ts';
import { VIR_NET_ERROR, VIR_NET_MESSAGE, VIR_NET_OK, VIR_NET_REPLY } from '../protocol/net.gen.ts';
import {
  encRemoteError,
  REMOTE_PROGRAM,
  REMOTE_PROTOCOL_VERSION,
  type RemoteError,
} from '../protocol/remote-types.gen.ts';
import { encodePacket, MAX_PACKET, type Packet, type PacketHeader } from '../rpc/packet.ts';
import { XdrReader, type XdrWriter } from '../xdr/index.ts';

/** A call the mock server received. */
export interface MockCall {
  header: PacketHeader;
  body: Buffer;
}

/** One client connection to the mock server; tests use it to script the daemon's side. */
export class MockSession {
  /** Every packet received from the client, in order (calls, keepalives). */
  readonly received: Packet[] = [];

  constructor(readonly socket: Socket) {}

  /** Reads a call's arguments with a generated decoder, e.g. `s.args(call, decRemoteDomainGetInfoArgs)`. */
  args<T>(call: MockCall, dec: (r: XdrReader) => T): T {
    return dec(new XdrReader(call.body));
  }

  /** Replies OK to `call` with a body written by `body`. */
  reply(call: MockCall, body?: (w: XdrWriter) => void, header: Partial<PacketHeader> = {}): void {
    this.send({ ...call.header, type: VIR_NET_REPLY, status: VIR_NET_OK, ...header }, body);
  }

  /** Replies with a remote_error. */
  replyError(call: MockCall, err: Partial<RemoteError> & { code: number; message: string }): void {
    const full: RemoteError = {
      domain: 0,
      level: 2,
      dom: null,
      str1: null,
      str2: null,
      str3: null,
      int1: -1,
      int2: -1,
      net: null,
      ...err,
    };
    this.send({ ...call.header, type: VIR_NET_REPLY, status: VIR_NET_ERROR }, (w) => encRemoteError(w, full));
  }

  /** Sends an asynchronous remote-program MESSAGE (an event), body written by `body`. */
  event(procedure: number, body: (w: XdrWriter) => void): void {
    this.send(
      {
        program: REMOTE_PROGRAM,
        version: REMOTE_PROTOCOL_VERSION,
        procedure,
        type: VIR_NET_MESSAGE,
        serial: 0,
        status: VIR_NET_OK,
      },
      body,
    );
  }

  ping(): void {
    this.send({
      program: KEEPALIVE_PROGRAM,
      version: KEEPALIVE_PROTOCOL_VERSION,
      procedure: KEEPALIVE_PROC_PING,
      type: VIR_NET_MESSAGE,
      serial: 0,
      status: VIR_NET_OK,
    });
  }

  /** Sends one well-formed packet with any header (e.g. a reply with a serial nobody asked for). */
  send(header: PacketHeader, body?: (w: XdrWriter) => void): void {
    this.sendRaw(encodePacket(header, body, MAX_PACKET));
  }

  /** Sends bytes as they are: for oversized length words, truncated packets, garbage. */
  sendRaw(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Closes the connection abruptly, as a crashing daemon would. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Sends what is buffered, then closes. */
  end(): Promise<void> {
    return new Promise((resolve) => this.socket.end(resolve));
  }
}
