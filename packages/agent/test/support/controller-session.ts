import {
  type Command,
  type CommandUpdate,
  type ConnectRequest,
  type ConnectResponse,
  GoodbyeReason,
  type Hello,
  type HostSample,
  type MessageStream,
  type MetricsBatch,
  type SnapshotChunk,
  type StateChange,
  type VmSample,
  type Welcome,
} from '@cockpit/proto';
import type { ServerDuplexStream } from '@grpc/grpc-js';

/** One Connect stream as the scripted controller sees it. */
export class ControllerSession {
  /** Every message after Hello, in order. */
  readonly received: ConnectRequest[] = [];
  readonly hello: Promise<Hello>;
  /** Resolves when the stream ended (either side). */
  readonly ended: Promise<void>;
  private listeners = new Set<() => void>();

  constructor(
    readonly call: ServerDuplexStream<ConnectRequest, ConnectResponse>,
    private readonly stream: MessageStream<ConnectResponse, ConnectRequest>,
  ) {
    let gotHello: (hello: Hello) => void = () => undefined;
    this.hello = new Promise((resolve) => {
      gotHello = resolve;
    });
    this.ended = (async () => {
      try {
        for await (const request of stream) {
          if (request.message?.$case === 'hello') gotHello(request.message.value);
          else this.received.push(request);
          for (const listener of this.listeners) listener();
        }
      } catch {
        // the agent went away: the stream simply ended
      }
    })();
  }

  /** The authorization metadata the agent connected with. */
  get authorization(): string | undefined {
    return this.call.metadata.get('authorization')[0]?.toString();
  }

  send(message: ConnectResponse['message']): Promise<void> {
    return this.stream.write({ message });
  }

  welcome(welcome: Partial<Welcome> = {}): Promise<void> {
    return this.send({
      $case: 'welcome',
      value: {
        hostId: 'h-1',
        appliedCursor: 0,
        heartbeatIntervalMs: 60_000,
        heartbeatDeadlineMs: 600_000,
        metricsIntervalMs: 10_000,
        serverTimeMs: Date.now(),
        ...welcome,
      },
    });
  }

  ack(cursor: number): Promise<void> {
    return this.send({ $case: 'ack', value: { cursor } });
  }

  command(command: Command): Promise<void> {
    return this.send({ $case: 'command', value: command });
  }

  goodbye(reason: GoodbyeReason = GoodbyeReason.GOODBYE_REASON_SHUTTING_DOWN, message = ''): Promise<void> {
    return this.send({ $case: 'goodbye', value: { reason, message } }).then(() => this.stream.end());
  }

  /** The controller ends the stream cleanly, without a goodbye. */
  end(): void {
    this.stream.end();
  }

  /** Every state change received, in order. */
  changes(): StateChange[] {
    return this.received.flatMap((r) => (r.message?.$case === 'state' ? r.message.value.changes : []));
  }

  snapshots(): SnapshotChunk[] {
    return this.received.flatMap((r) => (r.message?.$case === 'snapshot' ? [r.message.value] : []));
  }

  commandUpdates(commandId?: string): CommandUpdate[] {
    return this.received.flatMap((r) =>
      r.message?.$case === 'commandUpdate' &&
      (commandId === undefined || r.message.value.commandId === commandId)
        ? [r.message.value]
        : [],
    );
  }

  /** Every MetricsBatch received, in order. */
  metrics(): MetricsBatch[] {
    return this.received.flatMap((r) => (r.message?.$case === 'metrics' ? [r.message.value] : []));
  }

  vmSamples(vmId?: string): VmSample[] {
    return this.metrics().flatMap((b) => b.vms.filter((s) => vmId === undefined || s.vmId === vmId));
  }

  hostSamples(): HostSample[] {
    return this.metrics().flatMap((b) => b.hosts);
  }

  heartbeats(): number[] {
    return this.received.flatMap((r) =>
      r.message?.$case === 'heartbeat' ? [r.message.value.journalHead] : [],
    );
  }

  /** Resolves once `predicate` holds for what was received (checked on each new message). */
  until<T>(predicate: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = predicate();
        if (value !== undefined && value !== false) {
          cleanup();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`condition not met within ${timeoutMs} ms; received: ${this.summary()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  summary(): string {
    return this.received.map((r) => r.message?.$case ?? '?').join(', ') || 'nothing';
  }
}
