import { isIP } from 'node:net';
import type { Context } from 'hono';
import type { AppEnv } from './app-env.ts';
import { plainAddress, trustedProxyMatcher } from './trusted-proxies.ts';

interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
  server?: NodeBindings;
}

// One matcher per configuration object, built on its first request rather than on every one.
const matchers = new WeakMap<readonly string[], (address: string) => boolean>();

function isTrustedProxy(entries: readonly string[], address: string): boolean {
  let matcher = matchers.get(entries);
  if (matcher === undefined) {
    matcher = trustedProxyMatcher(entries);
    matchers.set(entries, matcher);
  }
  return matcher(address);
}

/**
 * The client's address, for login throttling, audit rows and request logs (read once per request
 * into `c.var.caller.clientAddress`). It is the TCP peer as
 * @hono/node-server hands it over (`c.env.incoming`), unless that peer is one of
 * COCKPIT_TRUSTED_PROXIES: then X-Forwarded-For is read from the right, skipping trusted proxies,
 * and the first address that is not one is the client. Entries left of it were written by the
 * client itself and are never believed (a client could otherwise name itself anything and dodge the
 * per-address throttle). Requests that did not come through a socket (in-process `app.request`)
 * are "unknown" unless the caller passes bindings.
 */
export function clientAddress(c: Context<AppEnv>): string {
  const env = c.env as NodeBindings | undefined;
  const bindings = env?.server ?? env;
  return clientAddressOf(
    bindings?.incoming?.socket?.remoteAddress,
    () => c.req.header('x-forwarded-for'),
    c.get('services')?.config.http.trustedProxies ?? [],
  );
}

/**
 * The same, from the TCP peer and the X-Forwarded-For header (read only when the peer is a trusted
 * proxy): for the fast lane (src/http/fast-lane.ts), which answers before Hono makes a context.
 */
export function clientAddressOf(
  peer: string | undefined,
  forwardedFor: () => string | undefined,
  trusted: readonly string[],
): string {
  if (peer === undefined) return 'unknown';
  if (trusted.length === 0 || !isTrustedProxy(trusted, peer)) return plainAddress(peer);
  const forwarded = (forwardedFor() ?? '')
    .split(',')
    .map((hop) => plainAddress(hop.trim()))
    .filter((hop) => hop !== '');
  let client = plainAddress(peer);
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const hop = forwarded[i] ?? '';
    // A hop that is not an address was not written by a proxy of ours: stop at the last good one.
    if (isIP(hop) === 0) break;
    client = hop;
    if (!isTrustedProxy(trusted, hop)) break;
  }
  return client;
}
