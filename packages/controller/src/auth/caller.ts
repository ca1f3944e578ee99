import type { AuditNote } from '../audit/audit-note.ts';
import type { Principal } from './principal.ts';

/**
 * Who asks a domain service for something, as each entry point (HTTP today, gRPC next) describes
 * them: services take it as their first argument instead of reading a framework's request context.
 */
export interface Caller {
  /** The verified user; absent on calls that establish one (login, refresh). */
  principal?: Principal;
  /** The client's address, for throttling and the audit log. */
  clientAddress: string;
  /** Where the service notes what this call's audit row should say. */
  audit: AuditNote;
}

/** A caller behind authentication. */
export interface SignedInCaller extends Caller {
  principal: Principal;
}
