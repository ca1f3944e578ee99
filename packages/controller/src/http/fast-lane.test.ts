import { describe, expect, it } from 'vitest';
import { plainQuery } from './fast-lane.ts';

describe('plainQuery', () => {
  const keys = new Set(['limit', 'cursor', 'state']);

  it('takes key=value pairs of known keys, once each, whose values need no decoding', () => {
    expect(plainQuery('', keys)).toEqual({});
    expect(plainQuery('limit=5&cursor=WyJ3ZWItMDUiLCI2ZjFiIl0&state=shut_off', keys)).toEqual({
      limit: '5',
      cursor: 'WyJ3ZWItMDUiLCI2ZjFiIl0',
      state: 'shut_off',
    });
    expect(plainQuery('limit=', keys)).toEqual({ limit: '' });
  });

  it('leaves anything else to the full stack', () => {
    for (const query of [
      'limit',
      'limit=5&limit=6',
      'other=1',
      'state=shut%5Foff',
      'state=a+b',
      'limit=5&',
      '&',
    ]) {
      expect({ query, parsed: plainQuery(query, keys) }).toEqual({ query, parsed: undefined });
    }
  });
});
