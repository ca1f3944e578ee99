import { AgentServiceService } from '@cockpit/proto';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { GrpcConfig } from '../config/config.ts';
import type { Services } from '../create-services.ts';
import { agentServiceHandlers } from './agent-service.ts';

export interface RunningGrpcServer {
  /** `host:port` as bound (the port the OS picked when asked for 0). */
  address: string;
  port: number;
  /** Goodbye to every stream, then stops: calls in flight get `graceMs` before they are cut. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Server settings, explicit: agents ping every 30 s (15 s timeout) also without calls, so the server
 * must allow pings that often; its own keepalive finds agents whose path died.
 */
const SERVER_OPTIONS = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 15_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
};

/** Serves the AgentService beside HTTP, on the same services: TLS unless plaintext was asked for. */
export async function serveGrpc(
  services: Services,
  hub: AgentHub,
  config: GrpcConfig,
): Promise<RunningGrpcServer> {
  const server = new Server(SERVER_OPTIONS);
  server.addService(AgentServiceService, agentServiceHandlers(services, hub));
  const tls = services.grpcTls;
  const credentials =
    tls === null
      ? ServerCredentials.createInsecure()
      : ServerCredentials.createSsl(
          null,
          [{ private_key: Buffer.from(tls.privateKeyPem), cert_chain: Buffer.from(tls.certChainPem) }],
          false,
        );
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${config.port}`, credentials, (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return {
    address: `${host}:${port}`,
    port,
    close: async (graceMs = 5_000) => {
      await hub.close();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
