import type { Context } from 'hono';

interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
  server?: NodeBindings;
}

/**
 * The TCP peer's address as @hono/node-server hands it over (`c.env.incoming`). X-Forwarded-For is
 * not read: without a configured trusted proxy any client could name itself. Requests that did not
 * come through a socket (in-process `app.request`) are "unknown" unless the caller passes bindings.
 */
export function clientAddress(c: Context): string {
  const env = c.env as NodeBindings | undefined;
  const bindings = env?.server ?? env;
  return bindings?.incoming?.socket?.remoteAddress ?? 'unknown';
}
