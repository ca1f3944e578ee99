import {
  AgentServiceClient,
  type ConnectRequest,
  type ConnectResponse,
  Driver,
  MessageStream,
  type StateChange,
  type Vm,
} from '@cockpit/proto';
import { credentials, Metadata } from '@grpc/grpc-js';
import { type ControllerTarget, HOST_INFO } from '../../test/support/scripted-agent.ts';

/**
 * A lean scripted agent for the scale benchmark: the real protocol over real gRPC (Hello, Welcome,
 * heartbeats at the controller's interval, numbered batches, snapshots, acks), but no journal, driver
 * or state folder, so one process holds 1,000 of them. Unlike the tests' ScriptedAgent it keeps
 * nothing it receives: it waits for acks by cursor.
 */
export class BenchAgent {
  cursor = 0;
  private acked = 0;
  private waiters: Array<{ cursor: number; resolve: () => void; reject: (err: Error) => void }> = [];
  private endedError: Error | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  private constructor(
    private readonly client: AgentServiceClient,
    private readonly stream: MessageStream<ConnectRequest, ConnectResponse>,
    readonly hostname: string,
  ) {
    this.incoming = stream[Symbol.asyncIterator]();
  }

  // One iterator for the stream's whole life: leaving a for-await loop would close the stream.
  private readonly incoming: AsyncIterator<ConnectResponse>;

  /** Connects with the host's credential, says Hello and waits for Welcome; heartbeats from then on. */
  static async connect(target: ControllerTarget, credential: string, hostname: string): Promise<BenchAgent> {
    const client = new AgentServiceClient(
      target.address,
      target.caPem === null ? credentials.createInsecure() : credentials.createSsl(Buffer.from(target.caPem)),
      { 'grpc.use_local_subchannel_pool': 1, 'grpc.enable_retries': 0 },
    );
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${credential}`);
    const stream = new MessageStream<ConnectRequest, ConnectResponse>(client.connect(metadata));
    const agent = new BenchAgent(client, stream, hostname);
    await stream.write({
      message: {
        $case: 'hello',
        value: {
          hostname,
          agentVersion: 'bench-0.0.1',
          driver: Driver.DRIVER_SIMULATED,
          host: HOST_INFO,
          journalFloor: 0,
          journalHead: 0,
          migrationUri: '',
          instanceId: `bench-${hostname}`,
        },
      },
    });
    const welcome = await agent.readUntilWelcome();
    agent.cursor = welcome.appliedCursor;
    agent.acked = welcome.appliedCursor;
    agent.heartbeat = setInterval(() => {
      void stream
        .write({
          message: { $case: 'heartbeat', value: { sentAtMs: Date.now(), journalHead: agent.cursor } },
        })
        .catch(() => undefined);
    }, welcome.heartbeatIntervalMs);
    void agent.readRest();
    return agent;
  }

  private async readUntilWelcome() {
    for (;;) {
      const { value: response, done } = await this.incoming.next();
      if (done) throw new Error(`${this.hostname}: the stream ended before Welcome`);
      if (response.message?.$case === 'welcome') return response.message.value;
      if (response.message?.$case === 'goodbye') {
        throw new Error(`${this.hostname}: goodbye before welcome: ${response.message.value.message}`);
      }
    }
  }

  private async readRest(): Promise<void> {
    try {
      for (;;) {
        const { value: response, done } = await this.incoming.next();
        if (done) break;
        if (response.message?.$case !== 'ack') continue;
        this.acked = Math.max(this.acked, response.message.value.cursor);
        const still = [];
        for (const w of this.waiters) {
          if (w.cursor <= this.acked) w.resolve();
          else still.push(w);
        }
        this.waiters = still;
      }
      this.endedError = new Error(`${this.hostname}: the stream ended`);
    } catch (err) {
      this.endedError = err instanceof Error ? err : new Error(String(err));
    }
    for (const w of this.waiters) w.reject(this.endedError);
    this.waiters = [];
  }

  /** Resolves once the controller acknowledged `cursor` (applied it durably). */
  ackOf(cursor: number): Promise<void> {
    if (cursor <= this.acked) return Promise.resolve();
    if (this.endedError !== undefined) return Promise.reject(this.endedError);
    return new Promise((resolve, reject) => this.waiters.push({ cursor, resolve, reject }));
  }

  /** Sends VM records as the next consecutive changes; returns the last cursor. */
  async update(vms: readonly Vm[]): Promise<number> {
    const now = Date.now();
    const changes: StateChange[] = vms.map((vm, i) => ({
      cursor: this.cursor + 1 + i,
      observedAtMs: now,
      change: { $case: 'vmUpdated', value: vm },
    }));
    this.cursor += vms.length;
    await this.stream.write({ message: { $case: 'state', value: { changes } } });
    return this.cursor;
  }

  /** Sends the whole host in one chunk, at the next cursor (as an agent whose journal moved on). */
  async snapshot(vms: readonly Vm[]): Promise<number> {
    this.cursor += 1;
    await this.stream.write({
      message: {
        $case: 'snapshot',
        value: {
          snapshotId: `snap-${this.hostname}-${this.cursor}-${Date.now()}`,
          cursor: this.cursor,
          vms: [...vms],
          host: HOST_INFO,
          last: true,
          observedAtMs: Date.now(),
        },
      },
    });
    return this.cursor;
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.stream.close();
    this.client.close();
  }
}
