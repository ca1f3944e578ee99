import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isAborted, isProtocolError, isTimeout, LibvirtClientError } from '../errors.ts';
import { REMOTE_PROC_CONNECT_GET_HOSTNAME } from '../protocol/remote-procedures.gen.ts';
import { decRemoteConnectGetHostnameRet, REMOTE_PROGRAM } from '../protocol/remote-types.gen.ts';
import { rejectionOf } from '../testing/index.ts';
import { XdrWriter } from '../xdr/index.ts';
import { CallTable, procName } from './call-table.ts';

const HOSTNAME = REMOTE_PROC_CONNECT_GET_HOSTNAME;

/** A reply body carrying the hostname `h`. */
function hostnameBody(h: string, trailing = false): Buffer {
  const w = new XdrWriter();
  w.string(h, 255);
  if (trailing) w.int(0);
  return Buffer.from(w.finish());
}

let table: CallTable;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  table = new CallTable();
});

afterEach(() => {
  vi.useRealTimers();
});

function add(serial: number, timeoutMs: number, signal?: AbortSignal) {
  return table.add(serial, REMOTE_PROGRAM, HOSTNAME, timeoutMs, signal, decRemoteConnectGetHostnameRet);
}

describe('serials', () => {
  it('start at 1 and count up', () => {
    expect([table.nextSerial(), table.nextSerial(), table.nextSerial()]).toEqual([1, 2, 3]);
  });

  it('wrap around 2^32 to 1, never 0 (what keepalive and events carry)', () => {
    const t = new CallTable(0xffff_fffe);
    expect([t.nextSerial(), t.nextSerial(), t.nextSerial()]).toEqual([0xffff_ffff, 1, 2]);
  });
});

describe('a call settled by its reply', () => {
  it('resolves with the decoded body and leaves no timer behind', async () => {
    const p = add(1, 1000);
    expect([table.size, vi.getTimerCount()]).toEqual([1, 1]);
    table.get(1)?.reply(hostnameBody('h1'));
    expect(await p).toEqual({ hostname: 'h1' });
    expect([table.size, vi.getTimerCount()]).toEqual([0, 0]);
  });

  it('is not marked abandoned when its deadline would have passed', async () => {
    const p = add(1, 1000);
    table.get(1)?.reply(hostnameBody('h1'));
    await p;
    vi.advanceTimersByTime(5000);
    expect(table.wasAbandoned(1)).toBe(false);
  });

  it('an abort after the reply changes nothing', async () => {
    const ac = new AbortController();
    const p = add(1, 0, ac.signal);
    table.get(1)?.reply(hostnameBody('h1'));
    await p;
    ac.abort();
    expect(table.wasAbandoned(1)).toBe(false);
  });

  it('a body that does not decode, or has bytes left over, fails the call with PROTOCOL', async () => {
    const truncated = add(1, 0);
    table.get(1)?.reply(Buffer.from('000000ff', 'hex'));
    const err = await rejectionOf(truncated);
    expect(isProtocolError(err)).toBe(true);
    expect(err instanceof LibvirtClientError && err.message).toContain('CONNECT_GET_HOSTNAME');
    const trailing = add(2, 0);
    table.get(2)?.reply(hostnameBody('h', true));
    expect(isProtocolError(await rejectionOf(trailing))).toBe(true);
    // Failed, not given up on: a reply is what settled them.
    expect([table.wasAbandoned(1), table.wasAbandoned(2), table.size]).toEqual([false, false, 0]);
  });

  it('an empty reply (no decoder) resolves undefined, and must be empty', async () => {
    const p = table.add(1, REMOTE_PROGRAM, HOSTNAME, 0, undefined, null);
    table.get(1)?.reply(Buffer.alloc(0));
    expect(await p).toBeUndefined();
    const q = table.add(2, REMOTE_PROGRAM, HOSTNAME, 0, undefined, null);
    table.get(2)?.reply(Buffer.alloc(4));
    expect(isProtocolError(await rejectionOf(q))).toBe(true);
  });
});

describe('deadlines and aborts', () => {
  it('the deadline rejects with TIMEOUT at timeoutMs, not before, and abandons the serial', async () => {
    const p = add(7, 1000);
    vi.advanceTimersByTime(999);
    expect(table.size).toBe(1);
    vi.advanceTimersByTime(1);
    const err = await rejectionOf(p);
    expect(isTimeout(err)).toBe(true);
    expect(err instanceof Error && err.message).toBe('CONNECT_GET_HOSTNAME got no reply within 1000 ms');
    expect(table.size).toBe(0);
    // Remembered once, so its late reply is recognised; then forgotten.
    expect([table.wasAbandoned(7), table.wasAbandoned(7)]).toEqual([true, false]);
  });

  it('timeoutMs 0 means no deadline: no timer at all', () => {
    void add(1, 0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1e9);
    expect(table.size).toBe(1);
  });

  it('the signal rejects with ABORTED (its reason as cause), abandons the serial, clears the timer', async () => {
    const ac = new AbortController();
    const p = add(3, 1000, ac.signal);
    const reason = new Error('user gave up');
    ac.abort(reason);
    const err = await rejectionOf(p);
    expect(isAborted(err)).toBe(true);
    expect(err instanceof Error && [err.message, err.cause]).toEqual([
      'CONNECT_GET_HOSTNAME aborted',
      reason,
    ]);
    expect([table.size, vi.getTimerCount(), table.wasAbandoned(3)]).toEqual([0, 0, true]);
  });

  it('a call failed by the connection is neither abandoned nor timed out later', async () => {
    const p = add(4, 1000);
    const gone = new Error('gone');
    table.get(4)?.reject(gone);
    expect(await rejectionOf(p)).toBe(gone);
    vi.advanceTimersByTime(2000);
    expect([table.wasAbandoned(4), vi.getTimerCount()]).toEqual([false, 0]);
  });

  it('rejectAll fails every pending call with the same error and clears their timers', async () => {
    const calls = [add(1, 1000), add(2, 0), add(3, 50)];
    const err = new Error('closed');
    table.rejectAll(err);
    expect(await Promise.all(calls.map((c) => rejectionOf(c)))).toEqual([err, err, err]);
    expect([table.size, vi.getTimerCount()]).toEqual([0, 0]);
  });

  it('remembers the latest 1024 abandoned serials, forgetting the oldest', async () => {
    const calls = Array.from({ length: 1025 }, (_, i) => rejectionOf(add(i + 1, 10)));
    vi.advanceTimersByTime(10);
    await Promise.all(calls);
    expect([table.wasAbandoned(1), table.wasAbandoned(2), table.wasAbandoned(1025)]).toEqual([
      false,
      true,
      true,
    ]);
  });
});

describe('procName', () => {
  it("names remote-program procedures by libvirt's name, others by number", () => {
    expect(procName(REMOTE_PROGRAM, HOSTNAME)).toBe('CONNECT_GET_HOSTNAME');
    expect(procName(0x6b656570, 1)).toBe('program 0x6b656570 procedure 1');
    expect(procName(REMOTE_PROGRAM, 99_999)).toBe(`program 0x${REMOTE_PROGRAM.toString(16)} procedure 99999`);
  });
});
