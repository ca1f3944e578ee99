import { credentials, Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentServiceClient,
  AgentServiceService,
  type ConnectRequest,
  type ConnectResponse,
} from './index.ts';
import { isStreamClosedError, MessageStream } from './message-stream.ts';

// A real gRPC server on loopback: every heartbeat that comes up is answered with an Ack carrying its
// journal_head, so both directions and back-pressure go through grpc-js as in production.
describe('MessageStream over a real grpc-js bidi stream', () => {
  let server: Server;
  let address: string;
  const serverStreams: Array<MessageStream<ConnectResponse, ConnectRequest>> = [];

  beforeAll(async () => {
    server = new Server();
    server.addService(AgentServiceService, {
      join: (_call: unknown, done: (err: Error) => void) => done(new Error('unused')),
      connect: async (call: ServerDuplexStream<ConnectRequest, ConnectResponse>) => {
        const stream = new MessageStream<ConnectResponse, ConnectRequest>(call);
        serverStreams.push(stream);
        for await (const request of stream) {
          if (request.message?.$case === 'heartbeat') {
            await stream.write({
              message: { $case: 'ack', value: { cursor: request.message.value.journalHead } },
            });
          }
        }
        stream.end();
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => {
    server.forceShutdown();
  });

  const open = (signal?: AbortSignal) => {
    const client = new AgentServiceClient(address, credentials.createInsecure());
    return {
      client,
      stream: new MessageStream<ConnectRequest, ConnectResponse>(client.connect(), { signal }),
    };
  };

  it('delivers every message in order both ways, with writes that wait for drain', async () => {
    const { client, stream } = open();
    const count = 5000;
    const writer = (async () => {
      for (let i = 1; i <= count; i++) {
        await stream.write({
          message: { $case: 'heartbeat', value: { sentAtMs: Date.now(), journalHead: i } },
        });
      }
      stream.end();
    })();
    const seen: number[] = [];
    for await (const response of stream) {
      if (response.message?.$case === 'ack') seen.push(response.message.value.cursor);
    }
    await writer;
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    client.close();
  });

  it('an AbortSignal ends the iteration and later writes fail with StreamClosedError', async () => {
    const controller = new AbortController();
    const { client, stream } = open(controller.signal);
    await stream.write({ message: { $case: 'heartbeat', value: { sentAtMs: 0, journalHead: 7 } } });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value?.message).toEqual({ $case: 'ack', value: { cursor: 7 } });
    const pending = iterator.next();
    controller.abort();
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
    const err = await stream
      .write({ message: { $case: 'heartbeat', value: { sentAtMs: 0, journalHead: 8 } } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isStreamClosedError(err)).toBe(true);
    client.close();
  });

  it('the reader sees an error when the server goes away mid-stream', async () => {
    const { client, stream } = open();
    await stream.write({ message: { $case: 'heartbeat', value: { sentAtMs: 0, journalHead: 1 } } });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const serverSide = serverStreams.at(-1);
    serverSide?.close();
    const outcome = await iterator.next().then(
      (r) => ({ done: r.done }),
      (e: unknown) => ({ error: e }),
    );
    // Either a clean end or a transport error, never a hang: both mean "reconnect".
    expect(outcome).toSatisfy(
      (o: { done?: boolean; error?: unknown }) => o.done === true || o.error !== undefined,
    );
    client.close();
  });
});
