import {
  type AgentServiceServer,
  type ConnectRequest,
  type ConnectResponse,
  GoodbyeReason,
  type JoinRequest,
  type JoinResponse,
  MessageStream,
} from '@cockpit/proto';
import { type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { Services } from '../create-services.ts';
import { isServiceError } from '../service-error.ts';
import { GrpcError, grpcErrorOf } from './grpc-error.ts';

/** Messages a stream may buffer before its transport is paused: a bound on memory per agent. */
const STREAM_HIGH_WATER_MARK = 16;

const BEARER = /^Bearer +(\S+)$/i;

/**
 * The AgentService handlers: thin adapters, like the HTTP routes. Join calls the host service; Connect
 * checks the credential of the `authorization` metadata and hands the stream to this replica's hub.
 * Services' refusals become gRPC statuses in one table (grpc-error.ts), the database unavailable for now
 * UNAVAILABLE; anything else is a bug, logged and answered INTERNAL.
 */
export function agentServiceHandlers(services: Services, hub: AgentHub): AgentServiceServer {
  const { log } = services;

  const asGrpcError = (err: unknown): GrpcError => {
    const known = grpcErrorOf(err);
    if (known !== null) return known;
    log.error({ err }, 'unhandled error in the agent service');
    return new GrpcError(status.INTERNAL, 'internal error');
  };

  return {
    join(call: ServerUnaryCall<JoinRequest, JoinResponse>, callback: sendUnaryData<JoinResponse>) {
      const request = call.request;
      services.hosts
        .join({
          joinToken: request.joinToken,
          hostname: request.hostname,
          agentVersion: request.agentVersion,
          host: request.host,
        })
        .then(
          (joined) => callback(null, joined),
          (err: unknown) => {
            const e = asGrpcError(err);
            log.warn(
              { hostname: request.hostname, peer: call.getPeer(), code: status[e.status], reason: e.message },
              'join refused',
            );
            callback({ code: e.status, details: e.message });
          },
        );
    },

    connect(call: ServerDuplexStream<ConnectRequest, ConnectResponse>) {
      const stream = new MessageStream<ConnectResponse, ConnectRequest>(call, {
        highWaterMark: STREAM_HIGH_WATER_MARK,
      });
      const fail = (code: status, details: string) => {
        call.emit('error', { code, details });
      };
      const header = call.metadata.get('authorization')[0]?.toString() ?? '';
      const credential = BEARER.exec(header.trim())?.[1] ?? '';
      services.hosts.authenticate(credential).then(
        (auth) =>
          hub.serve(
            stream,
            (code, details) => fail(code === 'unavailable' ? status.UNAVAILABLE : status.INTERNAL, details),
            auth,
          ),
        async (err: unknown) => {
          if (isServiceError(err, 'revoked')) {
            // Told plainly, so the agent stops instead of retrying a credential that will never work.
            await stream
              .write({
                message: {
                  $case: 'goodbye',
                  value: { reason: GoodbyeReason.GOODBYE_REASON_REVOKED, message: err.message },
                },
              })
              .catch(() => undefined);
            stream.end();
            stream.close();
            return;
          }
          const e = asGrpcError(err);
          log.warn({ peer: call.getPeer(), reason: e.message }, 'agent stream refused');
          fail(e.status, e.message);
          stream.close();
        },
      );
    },
  };
}
