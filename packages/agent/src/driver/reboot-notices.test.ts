import { describe, expect, it } from 'vitest';
import { RebootNotices } from './reboot-notices.ts';

const VM = '6f1d0c2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f';
const OTHER = '7a2e1d3f-4c5b-4d6e-9f0a-1b2c3d4e5f60';

describe('RebootNotices', () => {
  it('resolves the waits of the VM that rebooted, whatever the case of its id, and only those', async () => {
    const notices = new RebootNotices();
    const settled: string[] = [];
    const mine = notices.next(VM.toUpperCase(), { timeoutMs: 10_000 }).then((v) => settled.push(`mine ${v}`));
    const again = notices.next(VM, { timeoutMs: 10_000 }).then((v) => settled.push(`again ${v}`));
    const other = notices.next(OTHER, { timeoutMs: 50 }).then((v) => settled.push(`other ${v}`));
    notices.rebooted(VM);
    await Promise.all([mine, again, other]);
    expect(settled).toEqual(['mine rebooted', 'again rebooted', 'other none']);
  });

  it('a reboot before the wait began does not count; a wait ends at its timeout or abort', async () => {
    const notices = new RebootNotices();
    notices.rebooted(VM);
    expect(await notices.next(VM, { timeoutMs: 30 })).toBe('none');
    const abort = new AbortController();
    const waiting = notices.next(VM, { timeoutMs: 10_000, signal: abort.signal });
    abort.abort();
    expect(await waiting).toBe('none');
  });

  it('tells every wait, of any VM, that events were lost; a wait that began after is not told', async () => {
    const notices = new RebootNotices();
    const mine = notices.next(VM, { timeoutMs: 10_000 });
    const other = notices.next(OTHER, { timeoutMs: 10_000 });
    notices.missed();
    expect(await Promise.all([mine, other])).toEqual(['missed', 'missed']);
    const later = notices.next(VM, { timeoutMs: 10_000 });
    notices.rebooted(VM);
    expect(await later).toBe('rebooted');
  });
});
