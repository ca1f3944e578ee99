import type { AgentServiceClient, JoinRequest } from '@cockpit/proto';
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { HostCredential } from '../state/credential-store.ts';

export type JoinErrorCode =
  /** The controller could not be reached: the token is unspent, trying again later is safe. */
  | 'unreachable'
  /** The controller refused the token (wrong, expired or already used) or the request. */
  | 'refused';

export class JoinError extends Error {
  override readonly name = 'JoinError';
  constructor(
    readonly code: JoinErrorCode,
    message: string,
    readonly grpcCode?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
export const isJoinError = (err: unknown): err is JoinError => err instanceof JoinError;

/** Redeems the join token for this host's credential; one call with a deadline. */
export function join(
  client: AgentServiceClient,
  request: JoinRequest,
  timeoutMs = 15_000,
): Promise<HostCredential> {
  return new Promise((resolve, reject) => {
    client.join(request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, response) => {
      if (err !== null) return reject(joinErrorOf(err));
      if (response.credential === '' || response.hostId === '') {
        return reject(
          new JoinError('refused', 'the controller answered Join without a host id or credential'),
        );
      }
      resolve({ hostId: response.hostId, credential: response.credential });
    });
  });
}

function joinErrorOf(err: ServiceError): JoinError {
  const name = status[err.code] ?? String(err.code);
  if (err.code === status.UNAVAILABLE) {
    return new JoinError('unreachable', `the controller is unreachable (${name}: ${err.details})`, err.code, {
      cause: err,
    });
  }
  // Anything else (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, DEADLINE_EXCEEDED, …) may have
  // spent the token: trying again would only be refused, so it is reported once, in the controller's words.
  return new JoinError(
    'refused',
    `the controller refused to join this host (${name}: ${err.details})`,
    err.code,
    {
      cause: err,
    },
  );
}
