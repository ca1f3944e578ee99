import type { ServiceError, ServiceErrorCode } from '../service-error.ts';
import { ApiError, type ApiErrorCode, type FieldIssue } from './api-error.ts';
import { BEARER_REALM, invalidTokenChallenge } from './require-role.ts';

// Every code a service can throw, and what the HTTP API answers for it. A Record, so a code added to
// SERVICE_ERROR_CODES does not compile until it is mapped here.
const API_CODE: Record<ServiceErrorCode, ApiErrorCode> = {
  invalid_argument: 'validation_failed',
  not_found: 'not_found',
  conflict: 'conflict',
  forbidden: 'forbidden',
  invalid_credentials: 'unauthorized',
  throttled: 'too_many_requests',
  invalid_refresh_token: 'unauthorized',
  refresh_token_reused: 'unauthorized',
  invalid_token: 'unauthorized',
  // The agents' codes (gRPC has its own table in src/grpc); HTTP never carries them, but if it did,
  // a refused credential is a 401.
  invalid_join_token: 'unauthorized',
  invalid_credential: 'unauthorized',
  revoked: 'unauthorized',
  vm_not_running: 'vm_not_running',
  vm_already_running: 'vm_already_running',
  vm_not_paused: 'vm_not_paused',
  vm_already_paused: 'vm_already_paused',
  vm_paused: 'vm_paused',
  host_disconnected: 'host_disconnected',
  operation_in_progress: 'operation_in_progress',
  too_many_points: 'too_many_points',
  destination_is_source: 'destination_is_source',
  destination_not_migration_target: 'destination_not_migration_target',
  name_in_use: 'name_in_use',
  insufficient_memory: 'insufficient_memory',
  migration_in_progress: 'migration_in_progress',
  migration_finished: 'migration_finished',
  force_complete_not_allowed: 'force_complete_not_allowed',
};

/**
 * A service's refusal as the HTTP API answers it, in one place (called by onError). Inputs a service
 * names are request body fields (`username` → `body.username`) unless it says they are query parameters
 * (`from` → `query.from`): services check rules on what a client
 * sent; ids in the path that match nothing are `not_found`, not a field issue.
 */
export function toApiError(err: ServiceError): ApiError {
  const code = API_CODE[err.code];
  const details: FieldIssue[] | undefined =
    err.inputs.length > 0
      ? err.inputs.map((issue) => ({ path: `${issue.in ?? 'body'}.${issue.input}`, message: issue.message }))
      : undefined;
  const headers: Record<string, string> = {};
  let extra: Record<string, unknown> | undefined;
  if (err.code === 'throttled') {
    const seconds = err.retryAfterSeconds ?? 1;
    headers['Retry-After'] = String(seconds);
    extra = { retry_after_seconds: seconds };
  } else if (err.code === 'invalid_token') {
    headers['WWW-Authenticate'] = invalidTokenChallenge(err.message);
  } else if (code === 'unauthorized') {
    // RFC 9110 §15.5.2: every 401 carries a challenge, also on the login and refresh endpoints.
    headers['WWW-Authenticate'] = BEARER_REALM;
  }
  return new ApiError(code, err.message, { details: details ?? extra, headers, cause: err });
}
