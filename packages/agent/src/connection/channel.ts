import { AgentServiceClient } from '@cockpit/proto';
import { type ChannelOptions, credentials } from '@grpc/grpc-js';
import type { ControllerAddress } from '../config/controller-address.ts';

/** gRPC channel settings, explicit rather than grpc-js's defaults. */
export const CHANNEL_OPTIONS: ChannelOptions = {
  // HTTP/2 pings find a dead path (a NAT that dropped us, a controller host that vanished) even when the
  // stream is idle; the controller's server must permit pings at this rate.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 15_000,
  'grpc.keepalive_permit_without_calls': 1,
  // Each agent its own connection, as on separate machines, also when many run in one process.
  'grpc.use_local_subchannel_pool': 1,
  // Reconnecting is the agent's loop, with its own backoff and reasons; grpc-js retries nothing on its own.
  'grpc.enable_retries': 0,
};

/** A client for one connection attempt: TLS with `rootCerts` as the only trusted roots, or plaintext. */
export function createClient(address: ControllerAddress, rootCerts: string | undefined): AgentServiceClient {
  const channelCredentials =
    rootCerts === undefined ? credentials.createInsecure() : credentials.createSsl(Buffer.from(rootCerts));
  return new AgentServiceClient(address.target, channelCredentials, CHANNEL_OPTIONS);
}
