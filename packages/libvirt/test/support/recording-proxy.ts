import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Packet, PacketDecoder } from '../../src/index.ts';

export interface RecordedPacket extends Packet {
  direction: 'to-daemon' | 'to-client';
}

/** A unix-socket man in the middle that forwards bytes untouched and records every packet. */
export async function startRecordingProxy(target: string) {
  const dir = mkdtempSync(join(tmpdir(), 'libvirt-proxy-'));
  const socketPath = join(dir, 'proxy-sock');
  const packets: RecordedPacket[] = [];
  const server = createServer((client) => {
    const daemon = netConnect({ path: target });
    const up = new PacketDecoder();
    const down = new PacketDecoder();
    client.on('data', (b: Buffer) => {
      for (const p of up.push(Buffer.from(b))) packets.push({ ...p, direction: 'to-daemon' });
      daemon.write(b);
    });
    daemon.on('data', (b: Buffer) => {
      for (const p of down.push(Buffer.from(b))) packets.push({ ...p, direction: 'to-client' });
      client.write(b);
    });
    client.on('close', () => daemon.destroy());
    daemon.on('close', () => client.destroy());
    client.on('error', () => daemon.destroy());
    daemon.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    packets,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
