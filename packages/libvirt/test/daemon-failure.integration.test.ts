import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  connect,
  isClosed,
  isInterrupted,
  isKeepaliveTimeout,
  type LibvirtClientError,
  type LibvirtConnection,
} from '../src/index.ts';
import { rejectionOf, within } from '../src/testing/index.ts';
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
    const err = await rejectionOf(conn.host.getHostname({ timeoutMs: 0 }), {
      withinMs: 4000,
      what: 'keepalive to declare the frozen daemon dead and interrupt the call',
    });
    expect(isInterrupted(err)).toBe(true);
    expect(isKeepaliveTimeout((err as LibvirtClientError).cause)).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isKeepaliveTimeout(await conn.closed)).toBe(true);
    expect(isClosed(await rejectionOf(conn.host.getHostname()))).toBe(true);
  });

  it('a crashed daemon (SIGKILL) interrupts event streams and pending calls at once', async () => {
    conn = await connect(daemon.uri('test'));
    const events = await conn.domains.events();
    const nextEvent = rejectionOf(events.next(), {
      withinMs: 4000,
      what: "the daemon's death to fail the event stream",
    });
    daemon.signal('SIGSTOP');
    // Sent while the daemon is frozen, so it is certainly pending when the daemon dies.
    const call = rejectionOf(conn.host.getCapabilities({ timeoutMs: 0 }), {
      withinMs: 4000,
      what: "the daemon's death to interrupt the pending call",
    });
    daemon.signal('SIGKILL');
    expect(isInterrupted(await call)).toBe(true);
    expect(isInterrupted(await nextEvent)).toBe(true);
    const closed = await within(conn.closed, { withinMs: 4000, what: 'the connection to close' });
    expect(isInterrupted(closed)).toBe(true);
  });
});
