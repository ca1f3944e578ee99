import type { Caller, SignedInCaller } from '../auth/caller.ts';
import type { Services } from '../create-services.ts';
import type { ApiErrorCode } from './api-error.ts';

/**
 * What every handler finds in Hono's typed context. Services arrive through it (`c.var.services`)
 * rather than imported singletons, so a test builds the app with its own database, clock and keys.
 */
export interface AppEnv {
  Variables: {
    /** The services, with a logger that carries this request's id. */
    services: Services;
    requestId: string;
    /** Who calls, as the services take it; `principal` is set behind `requireRole` only. */
    caller: Caller;
    /** The error code this request was answered with, once it failed (for the audit row). */
    errorCode?: ApiErrorCode;
    /** Set when no route took the request (404/405 from notFound): nothing to audit, only to count. */
    unrouted?: boolean;
  };
}

/** The context behind `requireRole` (routes made with `authedRoute`): the caller is signed in. */
export interface AuthedEnv {
  Variables: AppEnv['Variables'] & { caller: SignedInCaller };
}
