import { CodedError } from './coded-error.ts';

/**
 * Why a domain service refused a request. The set is closed: each entry point (the HTTP API today, the
 * agents' gRPC service next) maps every code to its own status in one place (`src/http/service-errors.ts`
 * for HTTP), so a service never knows which transport asked.
 */
export const SERVICE_ERROR_CODES = [
  /** An input breaks a rule only the service can check (it depends on who asks or on stored state). */
  'invalid_argument',
  'not_found',
  /** The request conflicts with the current state: a taken name, the last admin, yourself. */
  'conflict',
  /** The caller is known but may not do this. */
  'forbidden',
  /** Unknown user, wrong password or disabled user: deliberately one code so callers cannot tell which. */
  'invalid_credentials',
  /** Too many failed attempts; `retryAfterSeconds` says when to try again. */
  'throttled',
  /** Unknown, expired or revoked refresh token. */
  'invalid_refresh_token',
  /** An already-rotated refresh token came back: its whole family is now revoked. */
  'refresh_token_reused',
  /** A bearer access token that fails verification, or whose user is gone or disabled. */
  'invalid_token',
  /** A join token that is unknown, expired or already used. */
  'invalid_join_token',
  /** A host credential that is unknown or malformed (a revoked one is `revoked`). */
  'invalid_credential',
  /** The host was deleted: its credential no longer works. */
  'revoked',
  // Why a VM action cannot run now (each its own 409 in HTTP).
  'vm_not_running',
  'vm_already_running',
  'vm_not_paused',
  'vm_already_paused',
  'vm_paused',
  'host_disconnected',
  'operation_in_progress',
  /** A metric series would hold more points than a request may ask for. */
  'too_many_points',
  // Why a migration cannot start, be cancelled or be forced to complete (each its own 409 in HTTP).
  'destination_is_source',
  'destination_not_migration_target',
  /** Another VM on the destination has the VM's name. */
  'name_in_use',
  /** The destination has too little memory for the VM (`src/placement/memory-room.ts`). */
  'insufficient_memory',
  'migration_in_progress',
  'migration_finished',
  'force_complete_not_allowed',
] as const;

export type ServiceErrorCode = (typeof SERVICE_ERROR_CODES)[number];

/** One input at fault, named as the API names it (`username`, `current_password`). */
export interface InputIssue {
  input: string;
  /** Where the client wrote it: a body field (the default) or a query parameter. */
  in?: 'body' | 'query';
  message: string;
}

export interface ServiceErrorOptions {
  /** The inputs at fault, when the error is about particular ones. */
  inputs?: readonly InputIssue[];
  /** With `throttled`: seconds until the caller may try again. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class ServiceError extends CodedError<ServiceErrorCode> {
  readonly inputs: readonly InputIssue[];
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ServiceErrorCode, message: string, options: ServiceErrorOptions = {}) {
    super(code, message, { cause: options.cause });
    this.inputs = options.inputs ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** A ServiceError, or one with the given code. */
export const isServiceError = (err: unknown, code?: ServiceErrorCode): err is ServiceError =>
  err instanceof ServiceError && (code === undefined || err.code === code);
