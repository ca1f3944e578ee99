import {
  AgentServiceClient,
  type Command,
  type CommandUpdate,
  type ConnectRequest,
  type ConnectResponse,
  Driver,
  type Goodbye,
  type Hello,
  type HostInfo,
  type JoinResponse,
  MessageStream,
  type MetricsBatch,
  type StateChange,
  type Vm,
  VmState,
  type Welcome,
} from '@cockpit/proto';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';

/** How the scripted agent reaches the controller: its gRPC address and the CA to trust (null: plaintext). */
export interface ControllerTarget {
  address: string;
  caPem: string | null;
}

const client = (target: ControllerTarget) =>
  new AgentServiceClient(
    target.address,
    target.caPem === null ? credentials.createInsecure() : credentials.createSsl(Buffer.from(target.caPem)),
    { 'grpc.use_local_subchannel_pool': 1, 'grpc.enable_retries': 0 },
  );

export const HOST_INFO: HostInfo = {
  hypervisor: 'QEMU 7.2.0',
  libvirtVersion: '9.0.0',
  cpus: 8,
  memoryMib: 16384,
  cpuModel: 'x86_64',
  hostUuid: '00000000-0000-0000-0000-000000000042',
};

/** Redeems a join token as an agent would; rejects with the gRPC error. */
export function join(target: ControllerTarget, joinToken: string, hostname: string): Promise<JoinResponse> {
  const c = client(target);
  return new Promise<JoinResponse>((resolve, reject) => {
    c.join(
      { joinToken, hostname, agentVersion: 'scripted-0.0.1', host: HOST_INFO },
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (err, response) => (err === null ? resolve(response) : reject(err)),
    );
  }).finally(() => c.close());
}

/** A VM record as an agent reports it. */
export function vm(
  id: string,
  name: string,
  state: VmState = VmState.VM_STATE_RUNNING,
  extra: Partial<Vm> = {},
): Vm {
  return {
    id,
    name,
    state,
    stateReason: state === VmState.VM_STATE_RUNNING ? 'booted' : 'shutdown',
    vcpus: 1,
    memoryMib: 64,
    maxMemoryMib: 64,
    persistent: true,
    autostart: false,
    disks: [],
    ...extra,
  };
}

type Down = NonNullable<ConnectResponse['message']>;
type DownMap = { [M in Down as M['$case']]: M['value'] };
type ValueOf<K extends keyof DownMap> = DownMap[K];

/** How a stream ended, as the agent saw it. */
export interface StreamEnd {
  goodbye?: Goodbye;
  /** The gRPC status code when the call ended with an error. */
  code?: number;
  details?: string;
}

/**
 * One Connect stream driven by a test, built from @cockpit/proto like the real agent: the test sends
 * Hello, batches, snapshots, heartbeats and command updates, and reads what the controller answers.
 */
export class ScriptedAgent {
  readonly received: ConnectResponse[] = [];
  readonly ended: Promise<StreamEnd>;
  private readonly stream: MessageStream<ConnectRequest, ConnectResponse>;
  private readonly c: AgentServiceClient;
  private listeners = new Set<() => void>();
  private cursor = 0;

  constructor(target: ControllerTarget, credential: string) {
    this.c = client(target);
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${credential}`);
    const call = this.c.connect(metadata);
    this.stream = new MessageStream<ConnectRequest, ConnectResponse>(call);
    this.ended = this.watch();
  }

  private async watch(): Promise<StreamEnd> {
    {
      let goodbye: Goodbye | undefined;
      try {
        for await (const response of this.stream) {
          if (response.message?.$case === 'goodbye') goodbye = response.message.value;
          this.received.push(response);
          for (const listener of this.listeners) listener();
        }
        return { goodbye };
      } catch (err) {
        const e = err as Partial<ServiceError>;
        return { goodbye, code: e.code, details: e.details };
      } finally {
        this.c.close();
        for (const listener of this.listeners) listener();
      }
    }
  }

  /** Connects and says Hello; resolves with the Welcome (rejects when the stream ends instead). */
  static async connect(
    target: ControllerTarget,
    credential: string,
    hello: Partial<Hello> = {},
    options: { heartbeats?: boolean } = {},
  ): Promise<{ agent: ScriptedAgent; welcome: Welcome }> {
    const agent = new ScriptedAgent(target, credential);
    await agent.send({
      $case: 'hello',
      value: {
        hostname: 'scripted',
        agentVersion: 'scripted-0.0.1',
        driver: Driver.DRIVER_SIMULATED,
        host: HOST_INFO,
        journalFloor: 0,
        journalHead: 0,
        migrationUri: 'qemu+tcp://127.0.0.1:16509/system',
        instanceId: 'scripted',
        ...hello,
      },
    });
    const welcome = await agent.next('welcome');
    agent.cursor = welcome.appliedCursor;
    // Like the real agent: a heartbeat at the controller's interval, unless the test wants silence.
    if (options.heartbeats !== false) {
      const timer = setInterval(
        () => void agent.heartbeat().catch(() => undefined),
        welcome.heartbeatIntervalMs,
      );
      void agent.ended.then(() => clearInterval(timer));
    }
    return { agent, welcome };
  }

  async send(message: ConnectRequest['message']): Promise<void> {
    await this.stream.write({ message });
  }

  /** Sends changes numbered from the next cursor (or from `from`); returns the last cursor. */
  async batch(changes: Array<StateChange['change']>, from = this.cursor + 1): Promise<number> {
    const numbered = changes.map((change, i) => ({ cursor: from + i, observedAtMs: Date.now(), change }));
    await this.send({ $case: 'state', value: { changes: numbered } });
    this.cursor = from + changes.length - 1;
    return this.cursor;
  }

  /** Sends a whole snapshot at `cursor` in chunks of `chunkSize`. */
  async snapshot(cursor: number, vms: Vm[], chunkSize = 2): Promise<void> {
    const chunks = Math.max(1, Math.ceil(vms.length / chunkSize));
    for (let i = 0; i < chunks; i++) {
      await this.send({
        $case: 'snapshot',
        value: {
          snapshotId: `snap-${cursor}`,
          cursor,
          vms: vms.slice(i * chunkSize, (i + 1) * chunkSize),
          host: i === 0 ? HOST_INFO : undefined,
          last: i === chunks - 1,
          observedAtMs: Date.now(),
        },
      });
    }
    this.cursor = cursor;
  }

  heartbeat(): Promise<void> {
    return this.send({ $case: 'heartbeat', value: { sentAtMs: Date.now(), journalHead: this.cursor } });
  }

  /** Sends a batch of metric samples, as the agent's sampler does every period. */
  metrics(batch: Partial<MetricsBatch>): Promise<void> {
    return this.send({ $case: 'metrics', value: { hosts: [], vms: [], ...batch } });
  }

  commandUpdate(update: CommandUpdate): Promise<void> {
    return this.send({ $case: 'commandUpdate', value: update });
  }

  /** Every message of one kind received so far. */
  all<K extends Down['$case']>(kind: K): Array<ValueOf<K>> {
    return this.received
      .map((r) => r.message)
      .filter((m) => m?.$case === kind)
      .map((m) => (m as unknown as { value: ValueOf<K> }).value);
  }

  /** The next message of a kind not yet consumed by `next` (in order). */
  private consumed = new Map<string, number>();
  next<K extends Down['$case']>(kind: K, timeoutMs = 10_000): Promise<ValueOf<K>> {
    return new Promise<ValueOf<K>>((resolve, reject) => {
      const check = () => {
        const seen = this.consumed.get(kind) ?? 0;
        const found = this.all(kind)[seen];
        if (found !== undefined) {
          this.consumed.set(kind, seen + 1);
          done();
          resolve(found);
        }
      };
      let closed = false;
      void this.ended.then(() => {
        closed = true;
        setImmediate(() => {
          check();
          if (this.listeners.has(check)) {
            done();
            reject(new Error(`the stream ended before a ${kind} arrived (got ${this.kinds()})`));
          }
        });
      });
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `no ${kind} within ${timeoutMs} ms (got ${this.kinds()}${closed ? ', stream ended' : ''})`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** The acks so far, as cursors. */
  get acks(): number[] {
    return this.all('ack').map((a) => a.cursor);
  }

  commands(): Command[] {
    return this.all('command');
  }

  private kinds(): string {
    return this.received.map((r) => r.message?.$case).join(', ') || 'nothing';
  }

  /** Ends the stream from the agent's side. */
  close(): void {
    this.stream.close();
  }
}
