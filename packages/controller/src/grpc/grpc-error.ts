import { status } from '@grpc/grpc-js';
import { CodedError } from '../coded-error.ts';
import { isDatabaseConflict, isDatabaseUnavailable } from '../database/database-unavailable.ts';
import { isServiceError, type ServiceError, type ServiceErrorCode } from '../service-error.ts';

/** The one error a gRPC handler answers with: a gRPC status and a message for the agent's log. */
export class GrpcError extends CodedError<'grpc_status'> {
  constructor(
    readonly status: status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('grpc_status', message, options);
  }
}

export const isGrpcError = (err: unknown): err is GrpcError => err instanceof GrpcError;

// Every code a service can throw, as the agents' service answers it. A Record: a new code does not
// compile until it is mapped here too. The agent treats UNAVAILABLE as "try again later" and anything
// else on Join as a refusal, so only a transient state maps to UNAVAILABLE.
const GRPC_STATUS: Record<ServiceErrorCode, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  conflict: status.ALREADY_EXISTS,
  forbidden: status.PERMISSION_DENIED,
  invalid_credentials: status.UNAUTHENTICATED,
  throttled: status.RESOURCE_EXHAUSTED,
  invalid_refresh_token: status.UNAUTHENTICATED,
  refresh_token_reused: status.UNAUTHENTICATED,
  invalid_token: status.UNAUTHENTICATED,
  invalid_join_token: status.PERMISSION_DENIED,
  invalid_credential: status.UNAUTHENTICATED,
  revoked: status.PERMISSION_DENIED,
  vm_not_running: status.FAILED_PRECONDITION,
  vm_already_running: status.FAILED_PRECONDITION,
  vm_not_paused: status.FAILED_PRECONDITION,
  vm_already_paused: status.FAILED_PRECONDITION,
  vm_paused: status.FAILED_PRECONDITION,
  host_disconnected: status.FAILED_PRECONDITION,
  operation_in_progress: status.FAILED_PRECONDITION,
  too_many_points: status.INVALID_ARGUMENT,
  destination_is_source: status.FAILED_PRECONDITION,
  destination_not_migration_target: status.FAILED_PRECONDITION,
  name_in_use: status.FAILED_PRECONDITION,
  insufficient_memory: status.FAILED_PRECONDITION,
  migration_in_progress: status.FAILED_PRECONDITION,
  migration_finished: status.FAILED_PRECONDITION,
  force_complete_not_allowed: status.FAILED_PRECONDITION,
};

export const toGrpcError = (err: ServiceError): GrpcError =>
  new GrpcError(GRPC_STATUS[err.code], err.message, { cause: err });

/**
 * What a handler answers for an error, or null for a bug (answered INTERNAL and logged by the caller).
 * The database gone or overloaded for now, or a transaction rolled back for meeting a concurrent one, is
 * UNAVAILABLE, as HTTP answers it 503: the agent tries again later (on Join too: the transaction that
 * would have spent the token rolled back) instead of taking it for a refusal and stopping.
 */
export function grpcErrorOf(err: unknown): GrpcError | null {
  if (isGrpcError(err)) return err;
  if (isServiceError(err)) return toGrpcError(err);
  if (isDatabaseUnavailable(err)) {
    return new GrpcError(
      status.UNAVAILABLE,
      'the controller’s database is unreachable or overloaded right now; retry shortly',
      { cause: err },
    );
  }
  if (isDatabaseConflict(err)) {
    return new GrpcError(
      status.UNAVAILABLE,
      'the call met a concurrent change in the controller’s database and was rolled back; retry it',
      { cause: err },
    );
  }
  return null;
}
