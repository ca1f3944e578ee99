import { gzipSync } from 'node:zlib';
import type { Context, TypedResponse } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { acceptsGzip } from './accept-encoding.ts';

/**
 * The JSON of a `T`, serialised ahead (once, for many readers) and encoded (UTF-8 bytes: a string body
 * is encoded again at every write, 35 KB for a page of 100 VMs), typed as the value it came from.
 */
export type JsonText<T> = Uint8Array<ArrayBuffer> & { readonly jsonOf: T };

export const jsonText = <T>(value: T): JsonText<T> =>
  new TextEncoder().encode(JSON.stringify(value)) as JsonText<T>;

/**
 * Bodies below this go out plain: gzip's 18 bytes of framing and a compression call per new text
 * buy little under a kilobyte, which fits one TCP segment either way.
 */
export const GZIP_MIN_BYTES = 1024;

/**
 * Level 1, not zlib's default 6: on a page of 100 VMs (35,172 bytes) level 1 gives 5.6 KB in ~0.2 ms
 * and level 6 gives 5.0 KB in ~0.26 ms (node:zlib, this 2-core machine). A page is compressed again
 * at each change to the VM cache, which under steady updates is often; 10 % more bytes on the wire
 * matter less than the 25-30 % more CPU per compression.
 */
const GZIP_LEVEL = 1;

// Kept beside the text they came from and let go with it: a cached page is compressed once per
// cache generation, however many requests it answers.
const gzipped = new WeakMap<Uint8Array, Uint8Array<ArrayBuffer>>();

/** The gzip encoding of a text made ahead, compressed on first use and then kept with the text. */
export function gzippedJsonText(text: JsonText<unknown>): Uint8Array<ArrayBuffer> {
  let compressed = gzipped.get(text);
  if (compressed === undefined) {
    compressed = gzipSync(text, { level: GZIP_LEVEL });
    gzipped.set(text, compressed);
  }
  return compressed;
}

/**
 * Sends JSON made ahead as `c.json` would send its value (same JSON, same content type), typed as that
 * response, so a route's declared responses still check it. Gzip-encoded when the request accepts it
 * and the text is large enough to be worth it; either way `Vary: Accept-Encoding`, so caches keep the
 * two apart. A HEAD answer is described plain: its body is never sent, so nothing is compressed.
 */
export function sendJsonText<T, S extends ContentfulStatusCode>(
  c: Context,
  text: JsonText<T>,
  status: S,
): Response & TypedResponse<T, S, 'json'> {
  const { body, headers } = jsonTextEncoded(text, c.req.method, c.req.header('accept-encoding'));
  // A Uint8Array body keeps @hono/node-server on its fast path (its own light Response, written out
  // with one `end`, no Web Response or stream) with any headers, X-Request-Id added later included.
  const sent: Response = c.body(body, status, headers);
  // The bytes are the JSON of a T (gzip-encoded or not): the response is the one c.json(value) would type.
  return sent as Response & TypedResponse<T, S, 'json'>;
}

/**
 * The body and headers `sendJsonText` sends for `text`, given the request's method and
 * `Accept-Encoding`: gzip-encoded when accepted and the text is large enough to be worth it.
 */
export function jsonTextEncoded(
  text: JsonText<unknown>,
  method: string,
  acceptEncoding: string | undefined,
): { body: Uint8Array<ArrayBuffer>; headers: Record<string, string> } {
  return text.byteLength >= GZIP_MIN_BYTES && method !== 'HEAD' && acceptsGzip(acceptEncoding)
    ? { body: gzippedJsonText(text), headers: GZIPPED_HEADERS }
    : { body: text, headers: PLAIN_HEADERS };
}

const PLAIN_HEADERS = Object.freeze({ 'content-type': 'application/json', vary: 'Accept-Encoding' });
const GZIPPED_HEADERS = Object.freeze({ ...PLAIN_HEADERS, 'content-encoding': 'gzip' });
