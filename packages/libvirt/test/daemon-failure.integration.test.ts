import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  connect,
  isClosed,
  isInterrupted,
  isKeepaliveTimeout,
  type LibvirtClientError,
  type LibvirtConnection,
} from '../src/index.ts';
import { rejectionOf } from '../src/testing/index.ts';
import { type PrivateLibvirtd, startPrivateLibvirtd } from './support/private-libvirtd.ts';

// What a real libvirtd does when it dies or hangs, rather than what a mock is scripted to do.

let daemon: PrivateLibvirtd;
let conn: LibvirtConnection | null = null;

beforeEach(async () => {
  daemon = await startPrivateLibvirtd();
}, 30_000);

afterEach(async () => {
  conn?.rpc.close();
  conn = null;
  await daemon.stop();
});

describe('a real libvirtd failing under the client', () => {
  it('a frozen daemon (SIGSTOP) is declared dead by keepalive; the pending call is interrupted', async () => {
    conn = await connect(daemon.uri('test'), { keepalive: { intervalMs: 100, count: 3 } });
    expect(await conn.host.getHostname()).toBeTruthy();
    daemon.signal('SIGSTOP');
    const started = Date.now();
    // No deadline on the call: only keepalive can end it.
    const err = await rejectionOf(conn.host.getHostname({ timeoutMs: 0 }));
    expect(isInterrupted(err)).toBe(true);
    expect(isKeepaliveTimeout((err as LibvirtClientError).cause)).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isKeepaliveTimeout(await conn.closed)).toBe(true);
    expect(isClosed(await rejectionOf(conn.host.getHostname()))).toBe(true);
  });

  it('a crashed daemon (SIGKILL) interrupts event streams and pending calls at once', async () => {
    conn = await connect(daemon.uri('test'));
    const events = await conn.domains.events();
    const nextEvent = rejectionOf(events.next());
    daemon.signal('SIGSTOP');
    // Sent while the daemon is frozen, so it is certainly pending when the daemon dies.
    const call = rejectionOf(conn.host.getCapabilities({ timeoutMs: 0 }));
    daemon.signal('SIGKILL');
    expect(isInterrupted(await call)).toBe(true);
    expect(isInterrupted(await nextEvent)).toBe(true);
    expect(isInterrupted(await conn.closed)).toBe(true);
  });
});
