import {
  type AgentServiceClient,
  type ConnectRequest,
  type ConnectResponse,
  type Hello,
  MessageStream,
  type Welcome,
} from '@cockpit/proto';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CommandExecutor } from '../commands/command-executor.ts';
import type { Journal } from '../journal/journal.ts';
import type { HostCredential } from '../state/credential-store.ts';
import { JournalSender, type SecondaryOutbox, type SendStart } from './journal-sender.ts';
import { Liveness } from './liveness.ts';
import type { SessionEnd } from './session-end.ts';

export interface SessionOptions {
  client: AgentServiceClient;
  credential: HostCredential;
  journal: Journal;
  executor: CommandExecutor;
  /** Hello as of now (journal floor and head included). */
  hello: () => Hello;
  log: Logger;
  /** The agent is stopping. */
  signal: AbortSignal;
  /** How long to wait for Welcome. */
  welcomeTimeoutMs: number;
  /** Called once the controller welcomed this session. */
  welcomed?: (welcome: Welcome) => void;
  /** Lower-priority messages (metric samples), sent when the journal has nothing waiting. */
  secondary?: SecondaryOutbox;
}

export interface SessionResult {
  end: SessionEnd;
  /** When Welcome arrived (undefined: it never did). */
  welcomedAt?: number;
}

// Defaults for a controller that leaves the heartbeat fields unset.
const DEFAULT_INTERVAL_MS = 5_000;

/**
 * One stream with the controller, from Hello to its end: Hello → Welcome; then the journal after the
 * controller's cursor (or a snapshot), acknowledgements trimming it, commands to the executor, heartbeats
 * both ways. Resolves with why it ended; never throws for anything the network or the controller does.
 */
export async function runSession(options: SessionOptions): Promise<SessionResult> {
  const { journal, log } = options;
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${options.credential.credential}`);
  const call = options.client.connect(metadata);
  const stop = new AbortController();
  const onAgentStop = () => finish({ kind: 'closed' });
  options.signal.addEventListener('abort', onAgentStop, { once: true });
  const stream = new MessageStream<ConnectRequest, ConnectResponse>(call, { signal: stop.signal });
  let end: SessionEnd | undefined;
  let welcomedAt: number | undefined;
  let liveness: Liveness | undefined;
  let detachExecutor: (() => void) | undefined;
  const sender = new JournalSender({ journal, write: (r) => write(r), secondary: options.secondary });

  function finish(why: SessionEnd): void {
    end ??= why;
    stop.abort();
  }
  async function write(request: ConnectRequest): Promise<void> {
    liveness?.sent();
    await stream.write(request);
  }
  const send = (request: ConnectRequest) =>
    write(request).catch(() => {
      // The stream ended; the read side says why.
    });

  const welcomeTimer = setTimeout(
    () => finish({ kind: 'welcome_timeout', waitedMs: options.welcomeTimeoutMs }),
    options.welcomeTimeoutMs,
  );
  welcomeTimer.unref();

  function onWelcome(welcome: Welcome): void {
    clearTimeout(welcomeTimer);
    welcomedAt = Date.now();
    if (welcome.hostId !== '' && welcome.hostId.toLowerCase() !== options.credential.hostId.toLowerCase()) {
      log.warn(
        { hostId: welcome.hostId, joinedAs: options.credential.hostId },
        'the controller names this host differently than Join did',
      );
    }
    const start = startFor(journal, welcome.appliedCursor, log);
    log.info(
      {
        hostId: welcome.hostId,
        appliedCursor: welcome.appliedCursor,
        journalFloor: journal.floor,
        journalHead: journal.head,
        start: start.kind,
      },
      'connected to the controller',
    );
    const intervalMs = welcome.heartbeatIntervalMs || DEFAULT_INTERVAL_MS;
    liveness = new Liveness({
      intervalMs,
      deadlineMs: welcome.heartbeatDeadlineMs || 3 * intervalMs,
      beat: () =>
        void send({
          message: { $case: 'heartbeat', value: { sentAtMs: Date.now(), journalHead: journal.head } },
        }),
      expired: (silentMs) => finish({ kind: 'heartbeat_deadline', silentMs }),
    });
    liveness.start();
    detachExecutor = options.executor.attach(
      (update) => void send({ message: { $case: 'commandUpdate', value: update } }),
    );
    sender.run(start, stop.signal).then(
      (outcome) => {
        if (outcome === 'overflow') finish({ kind: 'journal_overflow' });
      },
      () => finish({ kind: 'stream_ended' }),
    );
    options.welcomed?.(welcome);
  }

  function onMessage(message: ConnectResponse['message']): void {
    switch (message?.$case) {
      case 'ack': {
        const cursor = message.value.cursor;
        if (cursor > sender.sentUpTo) {
          log.warn({ cursor, sentUpTo: sender.sentUpTo }, 'ignoring an Ack beyond what was sent');
        } else journal.acknowledge(cursor);
        return;
      }
      case 'command':
        options.executor.handle(message.value);
        return;
      case 'heartbeat':
        return;
      case 'goodbye':
        finish({ kind: 'goodbye', reason: message.value.reason, message: message.value.message });
        return;
      default:
        finish({
          kind: 'protocol_error',
          message: `unexpected ${message?.$case ?? 'empty message'} after Welcome`,
        });
    }
  }

  try {
    await stream.write({ message: { $case: 'hello', value: options.hello() } });
    for await (const response of stream) {
      if (end !== undefined) break;
      liveness?.received();
      const message = response.message;
      if (welcomedAt !== undefined) onMessage(message);
      else if (message?.$case === 'welcome') onWelcome(message.value);
      else if (message?.$case === 'goodbye') onMessage(message);
      else
        finish({
          kind: 'protocol_error',
          message: `expected Welcome, got ${message?.$case ?? 'an empty message'}`,
        });
    }
    finish({ kind: 'stream_ended' });
  } catch (err) {
    const e = err as Partial<ServiceError>;
    finish(
      typeof e.code === 'number'
        ? { kind: 'grpc_error', code: e.code, details: e.details ?? String(e.message) }
        : { kind: 'stream_ended' },
    );
  } finally {
    clearTimeout(welcomeTimer);
    liveness?.stop();
    detachExecutor?.();
    options.signal.removeEventListener('abort', onAgentStop);
    stream.close();
  }
  return { end: end ?? { kind: 'stream_ended' }, welcomedAt };
}

/** Replay after the controller's cursor when the journal reaches it, else a snapshot. */
function startFor(journal: Journal, applied: number, log: Logger): SendStart {
  if (applied > journal.head) {
    // The controller is ahead: this agent lost its cursor file. The cursor only grows, so move past it.
    log.warn(
      { appliedCursor: applied, journalHead: journal.head },
      'controller is ahead of the journal: moving the cursor past it',
    );
    journal.advancePast(applied);
    return { kind: 'snapshot' };
  }
  return journal.canReplayFrom(applied) ? { kind: 'replay', after: applied } : { kind: 'snapshot' };
}
