import { GoodbyeReason, goodbyeReasonToJSON } from '@cockpit/proto';
import { status } from '@grpc/grpc-js';

/** Why a session with the controller ended. */
export type SessionEnd =
  /** The agent is stopping. */
  | { kind: 'closed' }
  /** The controller said goodbye on purpose. */
  | { kind: 'goodbye'; reason: GoodbyeReason; message: string }
  /** The controller ended the stream without a goodbye. */
  | { kind: 'stream_ended' }
  /** gRPC ended the call with a status: unreachable (refused, TLS, DNS), rejected credential, … */
  | { kind: 'grpc_error'; code: number; details: string }
  /** Nothing arrived from the controller within its heartbeat deadline. */
  | { kind: 'heartbeat_deadline'; silentMs: number }
  /** The controller did not answer Hello. */
  | { kind: 'welcome_timeout'; waitedMs: number }
  /** The controller sent something the protocol does not allow there. */
  | { kind: 'protocol_error'; message: string }
  /** The connection could not be prepared (e.g. the controller's CA could not be fetched yet). */
  | { kind: 'setup_failed'; message: string }
  /** Changes came faster than the stream took them and the journal dropped unsent ones. */
  | { kind: 'journal_overflow' };

/** Fields for the log line that says why the agent is disconnected, with a hint a person can act on. */
export function describeEnd(end: SessionEnd): Record<string, unknown> {
  switch (end.kind) {
    case 'goodbye':
      return { reason: 'goodbye', goodbye: goodbyeReasonToJSON(end.reason), message: end.message };
    case 'grpc_error':
      return { reason: grpcReason(end.code), grpcStatus: status[end.code] ?? end.code, details: end.details };
    case 'heartbeat_deadline':
      return { reason: end.kind, silentMs: end.silentMs };
    case 'welcome_timeout':
      return { reason: end.kind, waitedMs: end.waitedMs };
    case 'protocol_error':
    case 'setup_failed':
      return { reason: end.kind, message: end.message };
    default:
      return { reason: end.kind };
  }
}

// The details of an UNAVAILABLE status say which (connection refused, a TLS verification failure, a name
// that does not resolve); they are logged as grpc-js gives them.
function grpcReason(code: number): string {
  switch (code) {
    case status.UNAVAILABLE:
      return 'unreachable';
    case status.UNAUTHENTICATED:
    case status.PERMISSION_DENIED:
      return 'credential_rejected';
    case status.DEADLINE_EXCEEDED:
      return 'deadline_exceeded';
    case status.CANCELLED:
      // Our own cancel ends a session as 'closed'; a CANCELLED status here came from the other side.
      return 'cancelled_by_controller';
    default:
      return 'grpc_error';
  }
}

export const isRevoked = (end: SessionEnd): boolean =>
  end.kind === 'goodbye' && end.reason === GoodbyeReason.GOODBYE_REASON_REVOKED;
