import { describe, expect, it } from 'vitest';
import { acceptsGzip } from './accept-encoding.ts';

describe('acceptsGzip', () => {
  it.each([
    'gzip',
    'GZIP',
    'x-gzip',
    'gzip, deflate',
    'gzip, deflate, br, zstd',
    'br;q=1.0, gzip;q=0.8, *;q=0.1',
    'deflate, gzip;q=0.001',
    ' gzip ; q=1 ',
    'gzip;Q=0.5',
    '*',
    '*;q=0.5',
    'identity, *;q=1',
    'gzip;q=0, gzip;q=1',
  ])('accepts gzip from %j', (header) => {
    expect(acceptsGzip(header)).toBe(true);
  });

  it.each([
    undefined,
    '',
    'identity',
    'deflate, br',
    'gzip;q=0',
    'gzip;q=0.000',
    'gzip; q=0.0',
    // An explicit refusal wins over the wildcard.
    'gzip;q=0, *',
    '*;q=0',
    'identity;q=1, *;q=0',
    // Weights we can't read: plain, which is never wrong.
    'gzip;q=2',
    'gzip;q=abc',
    'gzip;q=0.0001',
    'gzipx, xgzip',
  ])('refuses gzip from %j', (header) => {
    expect(acceptsGzip(header)).toBe(false);
  });

  it('answers each header by its own value, not the one before it', () => {
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('identity')).toBe(false);
  });
});
