/**
 * What a domain service adds to the audit row of the call it serves: the entry point (the HTTP audit
 * middleware) knows who called, when, how and how it ended, but only the service knows what the call
 * was about. Filled in as soon as the service knows it, so a call that then fails is recorded with it.
 */
export interface AuditNote {
  /** Overrides the entry point's default action (for HTTP `METHOD /route/:pattern`). */
  action?: string;
  /** What the call acts on, e.g. `user:<id>`. */
  target?: string;
  /** Who acted when the call carries no principal (a login names its user). */
  actorId?: string;
  actorUsername?: string;
  /** What changed, in a few plain fields (`{username, role, previous_role}`); never a secret. */
  detail?: Record<string, string | number | boolean | null>;
}
