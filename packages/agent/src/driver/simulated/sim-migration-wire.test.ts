import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectionLost,
  type DestinationMessage,
  LineChannel,
  parseSimMigrationUri,
  type SourceMessage,
  simMigrationUri,
} from './sim-migration-wire.ts';

const UUID = '6f1e2d3c-4b5a-4978-8877-665544332211';
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A connected pair of loopback sockets: [client end, server end]. */
async function pair(): Promise<[Socket, Socket]> {
  const server = createServer();
  servers.push(server);
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const client = connect({
    host: '127.0.0.1',
    port: typeof address === 'object' && address ? address.port : 0,
  });
  await new Promise((resolve) => client.once('connect', resolve));
  return [client, await accepted];
}

describe('simulated migration URIs', () => {
  it('parses listen addresses and advertised URIs, and writes them back', () => {
    expect(parseSimMigrationUri('sim+tcp://127.0.0.1:0')).toEqual({
      host: '127.0.0.1',
      port: 0,
      hostUuid: '',
    });
    const target = { host: '127.0.0.1', port: 41_000, hostUuid: UUID };
    expect(parseSimMigrationUri(simMigrationUri(target))).toEqual(target);
    const v6 = { host: '::1', port: 7411, hostUuid: UUID };
    expect(simMigrationUri(v6)).toBe(`sim+tcp://[::1]:7411/${UUID}`);
    expect(parseSimMigrationUri(simMigrationUri(v6))).toEqual(v6);
    expect(parseSimMigrationUri('sim+tcp://node-02.example:7411/')).toMatchObject({
      host: 'node-02.example',
    });
  });

  it('refuses what is not one, saying what it must be', () => {
    for (const uri of [
      'sim://node-07',
      'sim+tcp://127.0.0.1',
      'sim+tcp://127.0.0.1:65536',
      'qemu:///system',
      '',
    ]) {
      expect(parseSimMigrationUri(uri)).toBe(
        'must be sim+tcp://<address>:<port> (port 0: any free port), or empty',
      );
    }
  });
});

describe('LineChannel', () => {
  it('carries messages in order, split or joined across TCP chunks', async () => {
    const [client, server] = await pair();
    const source = new LineChannel<SourceMessage, DestinationMessage>(client);
    const destination = new LineChannel<DestinationMessage, SourceMessage>(server);
    source.send({ type: 'prepare', hostUuid: UUID, vm: { id: 'x' } });
    source.send({ type: 'finish', persistent: true });
    expect(await destination.receive()).toEqual({ type: 'prepare', hostUuid: UUID, vm: { id: 'x' } });
    expect(await destination.receive()).toEqual({ type: 'finish', persistent: true });
    // One message in two writes, then two in one.
    client.write('{"type":"ab');
    const split = destination.receive();
    client.write('ort"}\n{"type":"post_copy"}\n{"type":"abort"}\n');
    expect(await split).toEqual({ type: 'abort' });
    expect(await destination.receive()).toEqual({ type: 'post_copy' });
    expect(await destination.receive()).toEqual({ type: 'abort' });
    source.close();
  });

  it('a peer that closes, or sends what is not a message, ends the connection: waiting reads reject', async () => {
    const [client, server] = await pair();
    const destination = new LineChannel<DestinationMessage, SourceMessage>(server);
    const waiting = destination.receive();
    client.write('GET / HTTP/1.1\n');
    await expect(waiting).rejects.toBeInstanceOf(ConnectionLost);
    await destination.closed;
    await expect(destination.receive()).rejects.toBeInstanceOf(ConnectionLost);

    const [other, otherServer] = await pair();
    const source = new LineChannel<SourceMessage, DestinationMessage>(other);
    const reply = source.receive();
    otherServer.destroy();
    await expect(reply).rejects.toBeInstanceOf(ConnectionLost);
    await source.closed;
  });
});
