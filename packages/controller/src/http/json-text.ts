import type { Context, TypedResponse } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The JSON text of a `T`, serialised ahead (once, for many readers), typed as the value it came from. */
export type JsonText<T> = string & { readonly jsonOf: T };

export const jsonText = <T>(value: T): JsonText<T> => JSON.stringify(value) as JsonText<T>;

/**
 * Sends JSON text made ahead as `c.json` would send its value (same body, same content type), typed as
 * that response, so a route's declared responses still check it.
 */
export function sendJsonText<T, S extends ContentfulStatusCode>(
  c: Context,
  text: JsonText<T>,
  status: S,
): Response & TypedResponse<T, S, 'json'> {
  // The text is the JSON of a T: the response is the one c.json(value) would type.
  const sent: Response = c.body(text, status, { 'content-type': 'application/json' });
  return sent as Response & TypedResponse<T, S, 'json'>;
}
