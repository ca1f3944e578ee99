import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { tempDir } from '../../../test/support/temp-dir.ts';
import { CursorStore } from '../../journal/cursor-store.ts';
import { Journal } from '../../journal/journal.ts';
import { createLogger } from '../../log/logger.ts';
import { isDriverError } from '../driver-error.ts';
import { connectLink } from './connect-link.ts';
import { LibvirtDriver } from './libvirt-driver.ts';

// No libvirtd at the address: the driver keeps trying with backoff (not a busy loop), power calls say the
// hypervisor is unavailable, and close() ends it all. (Against a real libvirtd: test/libvirt-driver.test.ts.)
it('retries an unreachable libvirtd with backoff until closed', async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const { store, previous } = await CursorStore.open(join(tempDir('lv-'), 'cursor.json'));
  const driver = new LibvirtDriver({
    uri: `qemu+tcp://127.0.0.1:${port}/system`,
    resyncIntervalMs: 60_000,
    log: createLogger('debug', stream),
    connect: connectLink,
    backoff: { baseMs: 20, capMs: 200 },
  });
  const started = driver.start(new Journal({ cursors: store, previous, capacity: 100 }));
  const retries = () => lines.filter((l) => l.msg === 'reconnecting to libvirt');
  await expect.poll(() => retries().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(4);
  expect(lines.find((l) => l.msg === 'cannot connect to libvirt')?.err).toMatch(/ECONNREFUSED|connect/i);
  retries().forEach((line, i) => {
    expect(line.failures).toBe(i + 1);
    expect(line.retryInMs).toBeLessThan(Math.min(200, 20 * 2 ** i));
  });
  const err = await driver.power('00000000-0000-4000-8000-000000000001', 'start').catch((e: unknown) => e);
  expect(isDriverError(err) && err.code).toBe('hypervisor_unavailable');
  await driver.close();
  await started;
});
