import type { Welcome } from '@cockpit/proto';
import type { Logger } from 'pino';
import type { SessionEnd } from '../connection/session-end.ts';
import { describeEnd } from '../connection/session-end.ts';
import type { HypervisorDriver } from '../driver/driver.ts';
import { type AgentMetricsView, renderAgentMetrics } from './agent-exposition.ts';
import type { MetricsConfig } from './metrics-config.ts';
import { isMetricsEndpointError, type MetricsEndpoint, startMetricsEndpoint } from './metrics-endpoint.ts';
import { SampleBuffer } from './sample-buffer.ts';
import { Sampler } from './sampler.ts';

/** What the rest of the agent adds to the /metrics view at each scrape. */
export type AgentCoreView = Pick<AgentMetricsView, 'info' | 'journal' | 'commands'>;

export interface MetricsStatus {
  /** The sampling period in use (0: the driver samples nothing). */
  periodMs: number;
  buffered: number;
  dropped: number;
  sent: number;
}

/**
 * The agent's metrics, composed: the sampler on the driver's counters, the bounded buffer the session
 * drains, the connection counters and the /metrics endpoint. One per agent.
 */
export class AgentMetrics {
  readonly buffer: SampleBuffer;
  private readonly sampler: Sampler | undefined;
  private endpoint: MetricsEndpoint | undefined;
  private connected = false;
  private sessions = 0;
  /** Samples dropped as of the last Welcome. */
  private droppedAtWelcome = 0;
  private readonly disconnects = new Map<string, number>();

  constructor(private readonly options: { config: MetricsConfig; driver: HypervisorDriver; log: Logger }) {
    const { config, driver, log } = options;
    this.buffer = new SampleBuffer({ maxSamples: config.bufferMaxSamples, maxAgeMs: config.bufferMaxAgeMs });
    const readCounters = driver.readCounters?.bind(driver);
    if (readCounters !== undefined) {
      this.sampler = new Sampler({
        source: { readCounters },
        buffer: this.buffer,
        periodMs: config.intervalMs,
        log,
      });
    }
  }

  /** The endpoint's URL, when it listens. */
  get url(): string | undefined {
    return this.endpoint?.url;
  }

  /**
   * Starts the /metrics endpoint when configured; rejects with MetricsEndpointError if it cannot listen
   * on an address the operator chose (a taken default address only costs the endpoint).
   */
  async listen(core: () => AgentCoreView): Promise<void> {
    const { listen, token, listenIsDefault } = this.options.config;
    if (listen === undefined) return;
    try {
      this.endpoint = await startMetricsEndpoint({
        listen,
        token,
        log: this.options.log,
        render: () => renderAgentMetrics(this.view(core())),
      });
    } catch (err) {
      if (!(listenIsDefault === true && isMetricsEndpointError(err))) throw err;
      this.options.log.warn(
        { err: err.message },
        'the default /metrics address is taken (another agent on this machine?): serving no /metrics; set --metrics-listen',
      );
    }
  }

  /** Starts sampling (once the driver is up). */
  start(): void {
    this.sampler?.start();
  }

  /** The connection loop's state: counts sessions and ends, applies the controller's sampling period. */
  connectionState(state: { connected: boolean; welcome?: Welcome; end?: SessionEnd }): void {
    this.connected = state.connected;
    if (state.welcome !== undefined) {
      this.sessions++;
      this.sampler?.setPeriod(state.welcome.metricsIntervalMs);
      const dropped = this.buffer.dropped - this.droppedAtWelcome;
      this.droppedAtWelcome = this.buffer.dropped;
      if (dropped > 0) {
        this.options.log.warn(
          { dropped, backlog: this.buffer.size },
          'metric samples dropped while disconnected (the oldest, beyond the buffer bounds); sending the rest',
        );
      }
    }
    if (state.end !== undefined && state.end.kind !== 'closed') {
      const reason = String(describeEnd(state.end).reason);
      this.disconnects.set(reason, (this.disconnects.get(reason) ?? 0) + 1);
    }
  }

  status(): MetricsStatus {
    return {
      periodMs: this.sampler?.periodMs ?? 0,
      buffered: this.buffer.size,
      dropped: this.buffer.dropped,
      sent: this.buffer.sent,
    };
  }

  async close(): Promise<void> {
    await this.sampler?.close();
    await this.endpoint?.close();
  }

  private view(core: AgentCoreView): AgentMetricsView {
    const sampler = this.sampler;
    return {
      ...core,
      connected: this.connected,
      reconnects: Math.max(0, this.sessions - 1),
      disconnects: this.disconnects,
      samples: { buffered: this.buffer.size, dropped: this.buffer.dropped, sent: this.buffer.sent },
      sampling: sampler === undefined ? undefined : { periodMs: sampler.periodMs, ...sampler.stats },
      libvirtUp: this.options.driver.hypervisorConnected?.(),
      latest: sampler?.latest ?? { host: undefined, vms: [], names: [] },
    };
  }
}
