import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GZIP_MIN_BYTES, gzippedJsonText, jsonText } from './json-text.ts';

const largeValue = { items: Array.from({ length: 200 }, (_, i) => ({ i, name: `item-${i}` })) };

describe('gzippedJsonText', () => {
  it('gunzips to exactly the text’s bytes', () => {
    const text = jsonText(largeValue);
    expect(text.byteLength).toBeGreaterThan(GZIP_MIN_BYTES);
    const compressed = gzippedJsonText(text);
    expect(compressed.byteLength).toBeLessThan(text.byteLength);
    expect(Buffer.compare(gunzipSync(compressed), text)).toBe(0);
  });

  it('compresses a text once and hands the same bytes to every later reader', () => {
    const text = jsonText(largeValue);
    const first = gzippedJsonText(text);
    expect(gzippedJsonText(text)).toBe(first);
    // Another text with the same JSON (a new cache generation) is compressed on its own.
    const again = jsonText(largeValue);
    const second = gzippedJsonText(again);
    expect(second).not.toBe(first);
    expect(Buffer.compare(second, first)).toBe(0);
  });
});
