import { describe, expect, it } from 'vitest';
import { isDatabaseConflict, isDatabaseUnavailable } from './database-unavailable.ts';

describe('isDatabaseUnavailable', () => {
  it('knows the client library’s connection codes and the server’s transient SQLSTATEs', () => {
    for (const code of [
      'CONNECTION_CLOSED',
      'CONNECT_TIMEOUT',
      'ECONNREFUSED',
      '57P01',
      '57P03',
      '53300',
      '57014',
      '08006',
    ]) {
      expect(isDatabaseUnavailable({ code }), code).toBe(true);
    }
  });

  it('leaves client mistakes and bugs alone', () => {
    for (const err of [
      { code: '23505' },
      { code: '22021' },
      { code: '42P01' },
      new Error('boom'),
      null,
      'x',
      { code: 8006 },
    ]) {
      expect(isDatabaseUnavailable(err), JSON.stringify(err)).toBe(false);
    }
  });
});

describe('isDatabaseConflict', () => {
  it('knows deadlock and serialization failures, and nothing else', () => {
    expect(isDatabaseConflict({ code: '40P01' })).toBe(true);
    expect(isDatabaseConflict({ code: '40001' })).toBe(true);
    for (const err of [{ code: '57P01' }, { code: '23505' }, new Error('boom'), null, { code: 40001 }]) {
      expect(isDatabaseConflict(err), JSON.stringify(err)).toBe(false);
    }
  });
});
