import { describe, expect, it } from 'vitest';
import { pathsWithNul } from './validation.ts';

describe('pathsWithNul', () => {
  it('finds NUL in strings and object keys at any depth, and nothing elsewhere', () => {
    const value = {
      plain: 'fine',
      count: 3,
      nested: { deep: ['ok', 'b\u0000d'], 'k\u0000ey': 'value' },
      when: new Date(0),
      nothing: null,
    };
    expect(pathsWithNul(value, ['body'])).toEqual([
      ['body', 'nested', 'deep', '1'],
      ['body', 'nested', 'k\u0000ey'],
    ]);
    expect(pathsWithNul('\u0000', ['query', 'q'])).toEqual([['query', 'q']]);
    expect(pathsWithNul({ a: ['x', { b: 'y' }] }, ['body'])).toEqual([]);
  });
});
