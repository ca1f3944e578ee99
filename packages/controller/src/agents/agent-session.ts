import {
  type Command,
  type CommandUpdate,
  type ConnectRequest,
  type ConnectResponse,
  GoodbyeReason,
  type Hello,
  type HostInfo,
  type MessageStream,
  type MetricsBatch,
  type SnapshotChunk,
  type StateBatch,
  type StateChange,
  type Vm,
} from '@cockpit/proto';
import type { Logger } from 'pino';
import type { AuthenticatedHost } from '../hosts/host-service.ts';
import { MessageReader } from './message-reader.ts';
import { type ApplyOutcome, isSyncProtocolError, type StreamOwner } from './sync-ingest.ts';

/** Most VMs one snapshot may carry: a bound on what a stream can make the controller buffer. */
export const MAX_SNAPSHOT_VMS = 100_000;
/** Most changes merged into one transaction from state batches that queued up on a stream. */
export const MAX_MERGED_CHANGES = 5_000;
/** How long the agent may take to say Hello. */
export const HELLO_TIMEOUT_MS = 15_000;

/** What a session needs from the replica it runs on (the AgentHub). */
export interface SessionHost {
  log: Logger;
  heartbeat: { intervalMs: number; deadlineMs: number };
  /** The sampling period agents are told to use, ms. */
  metricsIntervalMs: number;
  /** Takes a batch of metric samples (buffered: never waits for the database). */
  metrics(hostId: string, batch: MetricsBatch): void;
  /** Takes the host for this stream: its epoch and applied cursor; null when the host is gone. */
  takeStream(session: AgentSession, hello: Hello): Promise<{ epoch: number; appliedCursor: number } | null>;
  /** The session is over: unregistered, the host disconnected unless a newer stream holds it. */
  released(session: AgentSession): Promise<void>;
  applyBatch(owner: StreamOwner, batch: StateBatch): Promise<ApplyOutcome>;
  applySnapshot(
    owner: StreamOwner,
    snapshot: { cursor: number; vms: Vm[]; host: HostInfo | undefined },
  ): Promise<ApplyOutcome>;
  commandUpdate(hostId: string, update: CommandUpdate): Promise<void>;
  unfinishedCommands(hostId: string): Promise<Command[]>;
}

/** Ends the gRPC call with an error status (the agent reconnects with backoff). */
export type FailCall = (code: 'unavailable' | 'internal', details: string) => void;

interface SnapshotBuffer {
  id: string;
  cursor: number;
  vms: Vm[];
  host: HostInfo | undefined;
}

/**
 * One agent's stream on this replica, from Hello to its end: Hello → the host taken (epoch + 1) →
 * Welcome with the applied cursor → unfinished commands sent again → batches and snapshots applied
 * (each acknowledged once durable), command updates, heartbeats. Messages are handled one at a time:
 * the transport is paused while one is applied, so a stream holds little memory.
 */
export class AgentSession {
  epoch = 0;
  /** performance.now() of the last message from the agent, and of the last message to it. */
  lastReceived = performance.now();
  lastSent = performance.now();
  /** Wall-clock time of the last message from the agent (for hosts.last_seen_at). */
  lastReceivedAt = new Date();
  /** The newest cursor the agent says its journal holds (Hello, heartbeats), and the last one applied here. */
  journalHead = 0;
  appliedCursor = 0;
  /** performance.now() when the apply in progress began (the transport is paused meanwhile). */
  applyingSince: number | undefined;
  private pendingWrites = 0;
  private ended = false;
  private snapshot: SnapshotBuffer | undefined;
  readonly log: Logger;

  constructor(
    private readonly hub: SessionHost,
    private readonly stream: MessageStream<ConnectResponse, ConnectRequest>,
    private readonly failCall: FailCall,
    readonly auth: AuthenticatedHost,
    now: () => Date,
  ) {
    this.log = hub.log.child({ hostId: auth.hostId });
    this.now = now;
  }

  private readonly now: () => Date;

  get hostId(): string {
    return this.auth.hostId;
  }

  get owner(): StreamOwner {
    return { hostId: this.hostId, epoch: this.epoch };
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Runs the session to its end; never throws. */
  async run(): Promise<void> {
    const messages = new MessageReader(this.stream[Symbol.asyncIterator]());
    try {
      const first = await this.firstMessage(messages);
      if (first === undefined) return;
      const taken = await this.hub.takeStream(this, first);
      if (taken === null) {
        await this.goodbye(GoodbyeReason.GOODBYE_REASON_REVOKED, 'this host was deleted: join it again');
        return;
      }
      this.epoch = taken.epoch;
      this.appliedCursor = taken.appliedCursor;
      this.journalHead = Math.max(first.journalHead, taken.appliedCursor);
      this.log.info(
        {
          epoch: taken.epoch,
          appliedCursor: taken.appliedCursor,
          journalFloor: first.journalFloor,
          journalHead: first.journalHead,
          agentVersion: first.agentVersion,
          instanceId: first.instanceId,
        },
        'agent connected',
      );
      await this.send({
        $case: 'welcome',
        value: {
          hostId: this.hostId,
          appliedCursor: taken.appliedCursor,
          heartbeatIntervalMs: this.hub.heartbeat.intervalMs,
          heartbeatDeadlineMs: this.hub.heartbeat.deadlineMs,
          metricsIntervalMs: this.hub.metricsIntervalMs,
          serverTimeMs: Date.now(),
        },
      });
      for (const command of await this.hub.unfinishedCommands(this.hostId)) this.sendCommand(command);
      for (;;) {
        const next = await messages.next();
        if (next.done || this.ended) break;
        this.received();
        if (!(await this.handle(next.value, messages))) break;
      }
    } catch (err) {
      if (!this.ended) {
        // A database failure (or a bug): nothing was applied past the last Ack. The agent reconnects and
        // replays from the applied cursor.
        this.log.error({ err }, 'agent stream failed; ending it so the agent reconnects');
        this.fail('unavailable', 'the controller could not apply the stream; reconnect');
      }
    } finally {
      this.ended = true;
      this.stream.close();
      await this.hub
        .released(this)
        .catch((err: unknown) => this.log.error({ err }, 'could not release the host'));
    }
  }

  private async firstMessage(messages: MessageReader<ConnectRequest>): Promise<Hello | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), HELLO_TIMEOUT_MS);
    });
    try {
      const first = await Promise.race([messages.next(), timeout]);
      if (first === 'timeout') {
        await this.goodbye(
          GoodbyeReason.GOODBYE_REASON_PROTOCOL_ERROR,
          `no Hello within ${HELLO_TIMEOUT_MS} ms`,
        );
        return undefined;
      }
      if (first.done) return undefined;
      this.received();
      if (first.value.message?.$case !== 'hello') {
        await this.goodbye(
          GoodbyeReason.GOODBYE_REASON_PROTOCOL_ERROR,
          `the first message must be Hello, not ${first.value.message?.$case ?? 'an empty message'}`,
        );
        return undefined;
      }
      return first.value.message.value;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Handles one message; false ends the session. */
  private async handle(request: ConnectRequest, messages: MessageReader<ConnectRequest>): Promise<boolean> {
    const message = request.message;
    try {
      switch (message?.$case) {
        case 'state': {
          if (message.value.changes.length === 0) return true;
          const changes = await this.mergeQueuedBatches(message.value.changes, messages);
          return await this.applied(
            await this.whileApplying(() => this.hub.applyBatch(this.owner, { changes })),
          );
        }
        case 'snapshot':
          return await this.snapshotChunk(message.value);
        case 'commandUpdate':
          await this.hub.commandUpdate(this.hostId, message.value);
          return true;
        case 'heartbeat':
          this.journalHead = Math.max(this.journalHead, message.value.journalHead);
          return true;
        case 'metrics':
          this.hub.metrics(this.hostId, message.value);
          return true;
        default:
          return this.protocolError(`unexpected ${message?.$case ?? 'empty message'} after Hello`);
      }
    } catch (err) {
      if (isSyncProtocolError(err)) return this.protocolError(err.message);
      throw err;
    }
  }

  /**
   * Batches that arrived while the previous one was applied go into the same transaction (up to
   * MAX_MERGED_CHANGES): the busier the controller, the bigger its transactions, so ingest keeps up with
   * agents that send many small batches. The first other message ends the merge and is handled next.
   */
  private async mergeQueuedBatches(
    first: StateChange[],
    messages: MessageReader<ConnectRequest>,
  ): Promise<StateChange[]> {
    let changes = first;
    while (changes.length < MAX_MERGED_CHANGES) {
      const next = await messages.queued();
      if (next === undefined || next.done === true) break;
      const message = next.value.message;
      if (message?.$case !== 'state') {
        messages.unread(next);
        break;
      }
      this.received();
      changes =
        changes === first ? [...first, ...message.value.changes] : changes.concat(message.value.changes);
    }
    return changes;
  }

  private async snapshotChunk(chunk: SnapshotChunk): Promise<boolean> {
    const buffer = this.snapshot;
    if (buffer === undefined || buffer.id !== chunk.snapshotId) {
      if (buffer !== undefined) {
        this.log.warn(
          { snapshotId: buffer.id },
          'a new snapshot started before the last one ended: dropped it',
        );
      }
      this.snapshot = { id: chunk.snapshotId, cursor: chunk.cursor, vms: [], host: chunk.host };
    } else if (buffer.cursor !== chunk.cursor) {
      return this.protocolError(
        `snapshot ${chunk.snapshotId} changed its cursor from ${buffer.cursor} to ${chunk.cursor}`,
      );
    }
    const current = this.snapshot as SnapshotBuffer;
    if (current.vms.length + chunk.vms.length > MAX_SNAPSHOT_VMS) {
      return this.protocolError(`a snapshot may carry at most ${MAX_SNAPSHOT_VMS} VMs`);
    }
    current.vms.push(...chunk.vms);
    current.host ??= chunk.host;
    if (!chunk.last) return true;
    this.snapshot = undefined;
    const outcome = await this.whileApplying(() => this.hub.applySnapshot(this.owner, current));
    if (outcome.kind === 'applied') {
      this.log.info({ cursor: current.cursor, vms: current.vms.length }, 'snapshot applied');
    }
    return this.applied(outcome);
  }

  private async applied(outcome: ApplyOutcome): Promise<boolean> {
    switch (outcome.kind) {
      case 'applied':
        this.appliedCursor = outcome.cursor;
        this.journalHead = Math.max(this.journalHead, outcome.cursor);
        await this.send({ $case: 'ack', value: { cursor: outcome.cursor } });
        return true;
      case 'replaced':
        await this.goodbye(GoodbyeReason.GOODBYE_REASON_REPLACED, 'a newer stream of this host took over');
        return false;
      case 'gone':
        await this.goodbye(GoodbyeReason.GOODBYE_REASON_REVOKED, 'this host was deleted: join it again');
        return false;
    }
  }

  private async protocolError(message: string): Promise<boolean> {
    this.log.warn({ message }, 'agent broke the protocol: ending its stream');
    await this.goodbye(GoodbyeReason.GOODBYE_REASON_PROTOCOL_ERROR, message);
    return false;
  }

  /**
   * Runs an apply. Its time is the controller's, not the agent's silence: the agent's heartbeats wait in
   * the paused transport meanwhile, so the deadline counts silence up to the apply's start and resumes
   * after it (a database slowed down by load must not disconnect every host it is applying for).
   */
  private async whileApplying<T>(apply: () => Promise<T>): Promise<T> {
    const began = performance.now();
    this.applyingSince = began;
    try {
      return await apply();
    } finally {
      this.applyingSince = undefined;
      this.lastReceived += performance.now() - began;
    }
  }

  /** How long the agent has been silent, not counting time spent applying what it sent. */
  silentMs(now: number): number {
    return (this.applyingSince ?? now) - this.lastReceived;
  }

  private received(): void {
    this.lastReceived = performance.now();
    this.lastReceivedAt = this.now();
  }

  /** Writes one message; a write to a stream that ended is dropped (the read side ends the session). */
  async send(message: ConnectResponse['message']): Promise<void> {
    if (this.ended) return;
    this.lastSent = performance.now();
    this.pendingWrites += 1;
    try {
      await this.stream.write({ message });
    } catch {
      // The stream ended; the session's loop sees it.
    } finally {
      this.pendingWrites -= 1;
    }
  }

  sendCommand(command: Command): void {
    this.log.info({ commandId: command.commandId, action: command.action?.$case }, 'command sent');
    void this.send({ $case: 'command', value: command });
  }

  /** A heartbeat, unless writes are already waiting for the transport (then the agent hears from us anyway). */
  heartbeat(): void {
    if (this.pendingWrites > 0) return;
    void this.send({ $case: 'heartbeat', value: { sentAtMs: Date.now(), journalHead: 0 } });
  }

  /** Says why, then ends the stream. */
  async goodbye(reason: GoodbyeReason, message: string): Promise<void> {
    if (this.ended) return;
    await this.send({ $case: 'goodbye', value: { reason, message } });
    this.ended = true;
    this.stream.end();
    this.stream.close();
  }

  /** Ends the stream with an error status, no goodbye (the agent reconnects with backoff). */
  fail(code: 'unavailable' | 'internal', details: string): void {
    if (this.ended) return;
    this.ended = true;
    this.failCall(code, details);
    this.stream.close();
  }
}
