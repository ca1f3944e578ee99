import { hostname } from 'node:os';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { type Config, loadConfig } from './config/config.ts';
import { checkListenAddresses } from './config/listen-check.ts';
import { type CreateServicesOptions, createServices, type Services } from './create-services.ts';
import type { EmbeddedDatabase } from './database/embedded-database.ts';
import { type RunningGrpcServer, serveGrpc } from './grpc/grpc-server.ts';
import type { AppEnv } from './http/app-env.ts';
import { createApp } from './http/create-app.ts';
import { fastLane } from './http/fast-lane.ts';
import { type RunningServer, serveHttp } from './http/serve.ts';
import { createMetricsApp } from './prometheus/metrics-endpoint.ts';
import { FAST_ROUTES } from './routes/index.ts';

export interface StartControllerOptions extends CreateServicesOptions {
  /** Environment variables to configure from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Anchors a relative COCKPIT_DATA_DIR (default the current directory). */
  cwd?: string;
}

export interface RunningController {
  /** The base URL the API answers on. */
  url: string;
  config: Config;
  services: Services;
  /** The HTTP API being served. */
  app: OpenAPIHono<AppEnv>;
  /** The agents' gRPC service being served: `host:port` as bound, and the address agents are told to dial. */
  grpc: { address: string; port: number; advertisedAddress: string };
  /** Where Prometheus scrapes this controller (undefined: COCKPIT_METRICS_LISTEN=off). */
  metricsUrl?: string;
  /** Set when the controller runs on its embedded PGlite. */
  embedded?: EmbeddedDatabase;
  /** Stops serving (requests in flight finish), then closes the services and the database. */
  close(): Promise<void>;
}

/**
 * Starts a whole controller: configuration, the services (createServices: database, migrations, auth
 * with the first admin) and the HTTP API on them. Throws ConfigError, SigningKeyError or
 * AdminPasswordError for a configuration it must not start with.
 */
export async function startController(options: StartControllerOptions = {}): Promise<RunningController> {
  const config = loadConfig(options.env ?? process.env, options.cwd);
  // Before the data folder, the database or the first admin exist (a failed first start loses nothing).
  await checkListenAddresses(config);
  const core = await createServices(config, options);
  const { log } = core.services;
  try {
    const app = createApp(core.services);
    const grpc: RunningGrpcServer = await serveGrpc(core.services, core.services.agents, config.grpc);
    const advertisedAddress =
      config.grpc.advertiseAddress ?? defaultAdvertisedAddress(config.grpc.host, grpc.port);
    core.services.agentEndpoint.address = advertisedAddress;
    let server: RunningServer;
    let metricsServer: RunningServer | undefined;
    try {
      server = await serveHttp(app.fetch, config.http, fastLane(core.services, FAST_ROUTES));
    } catch (err) {
      await grpc.close(0);
      throw err;
    }
    const metricsListen = config.metrics.listen;
    if (typeof metricsListen === 'object') {
      try {
        metricsServer = await serveHttp(createMetricsApp(core.services).fetch, metricsListen);
      } catch (err) {
        await Promise.all([server.close(0), grpc.close(0)]);
        throw err;
      }
    }
    log.info(
      {
        url: server.url,
        docs: `${server.url}/docs`,
        grpc: grpc.address,
        metrics: metricsServer === undefined ? undefined : `${metricsServer.url}/metrics`,
        agentsDial: advertisedAddress,
        tls: core.services.grpcTls === null ? 'plaintext' : 'tls',
        caSha256: core.services.grpcTls?.caFingerprint,
      },
      'controller listening',
    );
    return {
      url: server.url,
      config,
      services: core.services,
      app,
      grpc: { address: grpc.address, port: grpc.port, advertisedAddress },
      metricsUrl: metricsListen === 'off' ? undefined : `${metricsServer?.url ?? server.url}/metrics`,
      embedded: core.embedded,
      close: async () => {
        // In flight get the grace period; then their connections are closed.
        await Promise.all([
          server.close(config.shutdownGraceMs),
          grpc.close(config.shutdownGraceMs),
          metricsServer?.close(config.shutdownGraceMs),
        ]);
        await core.close();
      },
    };
  } catch (err) {
    await core
      .close()
      .catch((closeErr: unknown) => log.error({ err: closeErr }, 'cleanup after a failed start'));
    throw err;
  }
}

/** What agents dial when COCKPIT_GRPC_ADVERTISE_ADDRESS is unset: the listener, or this machine's name on a wildcard. */
function defaultAdvertisedAddress(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' ? hostname() : host;
  return `${name.includes(':') ? `[${name}]` : name}:${port}`;
}
