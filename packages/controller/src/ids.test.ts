import { describe, expect, it } from 'vitest';
import { sameId, uuidv7, uuidv7Time } from './ids.ts';

describe('uuidv7', () => {
  it('is an RFC 9562 version 7 UUID carrying its creation time', () => {
    const at = Date.UTC(2026, 0, 1, 12, 0, 0, 123);
    const id = uuidv7(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidv7Time(id).getTime()).toBe(at);
    expect(uuidv7Time(uuidv7(new Date(at)))).toEqual(new Date(at));
  });

  it('sorts by time and does not repeat', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => uuidv7(1_700_000_000_000 + i * 1000));
    expect([...ids].sort()).toEqual(ids);
    const same = new Set(Array.from({ length: 1000 }, () => uuidv7(1_700_000_000_000)));
    expect(same.size).toBe(1000);
  });

  it('reads back the seed host id time prefix', () => {
    // The seed's example host id is a UUIDv7 too.
    expect(uuidv7Time('019e0014-abcd-7057-b326-000000000001').getUTCFullYear()).toBe(2026);
  });
});

describe('sameId', () => {
  it('compares UUIDs as values, whatever the letter case', () => {
    const id = '019e0014-abcd-7057-b326-00000000000a';
    expect(sameId(id, id.toUpperCase())).toBe(true);
    expect(sameId(id, '019e0014-abcd-7057-b326-00000000000b')).toBe(false);
  });
});
