import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { clientAddress } from '../auth/client-address.ts';
import { API_ERROR_STATUS, isApiError } from '../http/api-error.ts';
import type { AppEnv } from '../http/app-env.ts';
import { recordAudit } from './audit-log.ts';

/** What a handler adds to its audit row; everything else the middleware knows by itself. */
export interface AuditNote {
  /** Overrides the default action, `METHOD /route/:pattern`. */
  action?: string;
  target?: string;
  /** Who acted when there is no principal yet (a login names its user). */
  actorId?: string;
  actorUsername?: string;
}

// Keyed by the request object: no shared context variable needed, and nothing outlives the request.
const notes = new WeakMap<Request, AuditNote>();

export function annotateAudit(c: Context, note: AuditNote): void {
  notes.set(c.req.raw, { ...notes.get(c.req.raw), ...note });
}

const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS']);

const codeForStatus = (status: number): string =>
  Object.entries(API_ERROR_STATUS).find(([, s]) => s === status)?.[0] ?? `http_${status}`;

/**
 * Writes one audit row for every mutating call under the path it is mounted on, whatever route
 * handles it (future routes are covered without doing anything), after the response is decided:
 * who, what, target, result and the request id. A failed audit write is logged, not turned into
 * a failed request the caller would retry.
 */
export function auditMutations(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (READ_ONLY.has(c.req.method)) return next();
    await next();
    const note = notes.get(c.req.raw) ?? {};
    const principal = c.get('principal') as AppEnv['Variables']['principal'] | undefined;
    const status = c.res.status;
    const result = status < 400 ? 'success' : isApiError(c.error) ? c.error.code : codeForStatus(status);
    const route = routePath(c, -1);
    const { sql, clock, log } = c.var.services;
    try {
      await recordAudit(sql, {
        at: clock.now(),
        requestId: (c.get('requestId') as string | undefined) ?? null,
        actorId: principal?.userId ?? note.actorId ?? null,
        actorUsername: principal?.username ?? note.actorUsername ?? null,
        action: note.action ?? `${c.req.method} ${route}`,
        method: c.req.method,
        path: c.req.path,
        target: note.target ?? null,
        result,
        status,
        clientAddress: clientAddress(c),
      });
    } catch (err) {
      log.error({ err, path: c.req.path }, 'could not write the audit log');
    }
  };
}
