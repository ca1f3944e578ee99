import { request as httpRequest } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The bytes as they came over the wire, not decoded. */
  body: Buffer;
}

/**
 * One request with node:http, not fetch: fetch asks for gzip on its own and hands back the decoded
 * body. `headers` may be pairs, to send a field more than once.
 */
export function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> | Array<[string, string]>,
): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const req = httpRequest(
      new URL(path, url),
      { method, headers: Array.isArray(headers) ? headers.flat() : headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
