import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { codeForStatus } from './api-error.ts';
import type { AppEnv } from './app-env.ts';

const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Attempts to sign in are audited whatever their outcome, even when refused before naming a user. */
const SIGN_IN_ROUTES = new Set(['/api/v1/auth/login', '/api/v1/auth/refresh']);

/**
 * Writes one audit row for every mutating call under the path it is mounted on that reached a route
 * and a caller it can name (a signed-in principal, or the user a login or refresh named), whatever
 * route handles it (future routes are covered without doing anything), after the response is
 * decided: who, what, target, result and the request id. What the call was about comes from the
 * services, which note it on `c.var.caller.audit`; sign-in attempts are recorded even when refused before naming a user. Refusals
 * before that point (no such route, no or a bad token, a throttled anonymous attempt) are counted instead of written one row each, so a
 * flood of them cannot grow the database. A failed audit write is logged, not turned into a failed
 * request the caller would retry.
 */
export function auditMutations(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (READ_ONLY.has(c.req.method)) return next();
    await next();
    // `requireRole` replaces the caller with one that has a principal; the note is the same object.
    const { principal, audit: note, clientAddress } = c.get('caller');
    const status = c.res.status;
    const { audit, clock, log, refusals } = c.get('services');
    const route = routePath(c, -1);
    const named =
      principal !== undefined ||
      note.actorId !== undefined ||
      note.actorUsername !== undefined ||
      SIGN_IN_ROUTES.has(route);
    if (c.get('unrouted') === true) return refusals.count('no_route', clientAddress);
    if (principal === undefined && status === 429) return refusals.count('throttled', clientAddress);
    if (!named) return refusals.count('unauthenticated', clientAddress);
    try {
      await audit.record({
        at: clock.now(),
        requestId: c.get('requestId'),
        actorId: principal?.userId ?? note.actorId ?? null,
        actorUsername: principal?.username ?? note.actorUsername ?? null,
        action: note.action ?? `${c.req.method} ${route}`,
        method: c.req.method,
        path: c.req.path,
        target: note.target ?? null,
        // The code the caller got (set by onError and notFound).
        result: status < 400 ? 'success' : (c.get('errorCode') ?? codeForStatus(status)),
        status,
        clientAddress,
        detail: note.detail ?? null,
      });
    } catch (err) {
      log.error({ err, path: c.req.path }, 'could not write the audit log');
    }
  };
}
