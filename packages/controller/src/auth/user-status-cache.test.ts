import { afterEach, describe, expect, it, vi } from 'vitest';
import type { UserStatus } from './user-status-cache.ts';
import { UserStatusCache } from './user-status-cache.ts';

describe('UserStatusCache', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('refreshes an entry past half its life in the background, answering from it meanwhile; never older than the ttl', async () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const pending: Array<(s: UserStatus | null) => void> = [];
    const load = vi.fn(() => new Promise<UserStatus | null>((resolve) => pending.push(resolve)));
    const cache = new UserStatusCache(load, 1000);
    const first = cache.get('u');
    pending[0]?.({ disabled: false } as unknown as UserStatus);
    expect(await first).toEqual({ disabled: false });

    now = 400; // young: no lookup
    expect(await cache.get('u')).toEqual({ disabled: false });
    expect(load).toHaveBeenCalledTimes(1);

    now = 600; // past half its life: one background lookup, the old answer at once
    expect(await cache.get('u')).toEqual({ disabled: false });
    expect(await cache.get('u')).toEqual({ disabled: false });
    expect(load).toHaveBeenCalledTimes(2);
    pending[1]?.({ disabled: true } as unknown as UserStatus);
    await Promise.resolve();
    await Promise.resolve();
    expect(await cache.get('u')).toEqual({ disabled: true });

    // The refreshed entry lives from when its lookup began (600): at 1600 it has expired and is awaited.
    now = 1601;
    const expired = cache.get('u');
    expect(load).toHaveBeenCalledTimes(3);
    pending[2]?.({ disabled: false } as unknown as UserStatus);
    expect(await expired).toEqual({ disabled: false });
  });

  it('drops a forgotten entry even while its refresh is in flight', async () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const pending: Array<(s: UserStatus | null) => void> = [];
    const cache = new UserStatusCache(() => new Promise((resolve) => pending.push(resolve)), 1000);
    const first = cache.get('u');
    pending[0]?.({ disabled: false } as unknown as UserStatus);
    await first;
    now = 700;
    await cache.get('u'); // starts a refresh
    cache.forget('u');
    pending[1]?.({ disabled: false } as unknown as UserStatus);
    await Promise.resolve();
    await Promise.resolve();
    const next = cache.get('u'); // a fresh lookup, not the refresh's answer
    expect(pending).toHaveLength(3);
    pending[2]?.({ disabled: true } as unknown as UserStatus);
    expect(await next).toEqual({ disabled: true });
  });
});
