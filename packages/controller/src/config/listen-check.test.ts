import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError } from './config.ts';
import { checkListenAddresses } from './listen-check.ts';

const problemsOf = async (config: Parameters<typeof checkListenAddresses>[0]) => {
  const err = await checkListenAddresses(config).catch((e: unknown) => e);
  if (err === undefined) return {};
  if (!isConfigError(err)) throw err;
  return Object.fromEntries(err.problems.map((p) => [p.variable, p.message]));
};

describe('checkListenAddresses', () => {
  let busy: Server;
  let busyPort: number;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => busy.close(resolve));
  });

  it('passes free ports and port 0, and leaves nothing listening', async () => {
    expect(
      await problemsOf({
        http: { host: '127.0.0.1', port: 0 },
        grpc: { host: '127.0.0.1', port: 0 },
      } as never),
    ).toEqual({});
  });

  it('names the port variable of a busy port, and the host variable of a bad host, together', async () => {
    const problems = await problemsOf({
      http: { host: '127.0.0.1', port: busyPort },
      grpc: { host: 'no-such-host.invalid', port: 9443 },
    } as never);
    expect(problems.COCKPIT_HTTP_PORT).toBe(
      `127.0.0.1:${busyPort} is already in use by another program; set COCKPIT_HTTP_PORT to a free port`,
    );
    expect(problems.COCKPIT_GRPC_HOST).toBe('"no-such-host.invalid" does not resolve to an address');
  });

  it('says when the host is not an address of this machine', async () => {
    const problems = await problemsOf({
      http: { host: '192.0.2.1', port: 8080 },
      grpc: { host: '127.0.0.1', port: 0 },
    } as never);
    expect(problems.COCKPIT_HTTP_HOST).toContain('192.0.2.1 is not an address of this machine');
  });
});
