import { type Domain, fromRemoteDomain, toRemoteDomain } from './domain.ts';
import { LibvirtClientError } from './errors.ts';
import { EventQueue, type OverflowPolicy } from './event-queue.ts';
import {
  VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
  VIR_DOMAIN_EVENT_ID_LIFECYCLE,
  VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
  VIR_DOMAIN_EVENT_ID_REBOOT,
} from './protocol/libvirt-constants.gen.ts';
import {
  REMOTE_MESSAGE_DECODERS,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_JOB_COMPLETED,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT,
  REMOTE_PROCEDURE_NAMES,
  type RemoteMessage,
  type RemoteProcedures,
} from './protocol/remote-procedures.gen.ts';
import type {
  RemoteDomainEventCallbackJobCompletedMsg,
  RemoteDomainEventCallbackLifecycleMsg,
  RemoteDomainEventCallbackMigrationIterationMsg,
  RemoteDomainEventCallbackRebootMsg,
  RemoteNonnullDomain,
} from './protocol/remote-types.gen.ts';
import type { Logger } from './rpc/logger.ts';
import {
  fromRemoteTypedParam,
  type TypedParam,
  type TypedParamRecord,
  typedParamsToRecord,
} from './typed-params.ts';
import { XdrReader } from './xdr/index.ts';

export type DomainEvent =
  /** `event` is a virDomainEventType (VIR_DOMAIN_EVENT_STARTED …), `detail` its per-type detail code. */
  | { kind: 'lifecycle'; domain: Domain; event: number; detail: number }
  | { kind: 'reboot'; domain: Domain }
  /** Job statistics of the finished job (VIR_DOMAIN_JOB_* fields). */
  | { kind: 'jobCompleted'; domain: Domain; params: TypedParam[]; stats: TypedParamRecord }
  | { kind: 'migrationIteration'; domain: Domain; iteration: number }
  /** Any other event ID asked for with `otherEventIds`: the decoded generated message as it is. */
  | {
      kind: 'other';
      eventId: number;
      procedure: number;
      name: string;
      domain: Domain;
      message: RemoteMessage;
    };

export type DomainEventKind = DomainEvent['kind'];

const EVENT_IDS: Record<Exclude<DomainEventKind, 'other'>, number> = {
  lifecycle: VIR_DOMAIN_EVENT_ID_LIFECYCLE,
  reboot: VIR_DOMAIN_EVENT_ID_REBOOT,
  jobCompleted: VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
  migrationIteration: VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
};

/** Turns one callback-style event message into (callbackID, event); null for kinds we don't map. */
function toEvent(proc: number, msg: unknown): { callbackID: number; event: DomainEvent } | null {
  switch (proc) {
    case REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE: {
      const m = msg as RemoteDomainEventCallbackLifecycleMsg;
      const domain = fromRemoteDomain(m.msg.dom);
      return {
        callbackID: m.callbackID,
        event: { kind: 'lifecycle', domain, event: m.msg.event, detail: m.msg.detail },
      };
    }
    case REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT: {
      const m = msg as RemoteDomainEventCallbackRebootMsg;
      return { callbackID: m.callbackID, event: { kind: 'reboot', domain: fromRemoteDomain(m.msg.dom) } };
    }
    case REMOTE_PROC_DOMAIN_EVENT_CALLBACK_JOB_COMPLETED: {
      const m = msg as RemoteDomainEventCallbackJobCompletedMsg;
      const params = m.params.map(fromRemoteTypedParam);
      const event: DomainEvent = {
        kind: 'jobCompleted',
        domain: fromRemoteDomain(m.dom),
        params,
        stats: typedParamsToRecord(params),
      };
      return { callbackID: m.callbackID, event };
    }
    case REMOTE_PROC_DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION: {
      const m = msg as RemoteDomainEventCallbackMigrationIterationMsg;
      const event: DomainEvent = {
        kind: 'migrationIteration',
        domain: fromRemoteDomain(m.dom),
        iteration: m.iteration,
      };
      return { callbackID: m.callbackID, event };
    }
    default:
      return null;
  }
}

export interface DomainEventOptions {
  /** Which events; default all four kinds (none when only `otherEventIds` is given). */
  kinds?: Exclude<DomainEventKind, 'other'>[];
  /** More VIR_DOMAIN_EVENT_ID_* to register, delivered as kind `other` (e.g. DEVICE_ADDED). */
  otherEventIds?: number[];
  /** Only this domain's events; default every domain. */
  domain?: Domain;
  /** Ends the stream (and deregisters its callbacks). */
  signal?: AbortSignal;
  /** Most events buffered for a consumer that falls behind (default 10,000). */
  maxBuffered?: number;
  /**
   * When the buffer is full: `dropOldest` (default) drops the oldest event and counts it in the
   * stream's `dropped`; `fail` ends the stream with an EVENT_OVERFLOW error after the buffered events.
   */
  overflow?: OverflowPolicy;
}

/** The events of one subscription; `dropped` counts events lost to the `dropOldest` policy. */
export interface DomainEventStream extends AsyncIterableIterator<DomainEvent> {
  readonly dropped: number;
}

/** Routes event messages to subscriptions by the callback id the daemon assigned at registration. */
export class DomainEventHub {
  private readonly byCallback = new Map<number, { queue: EventQueue<DomainEvent>; eventId: number }>();
  // Events can in principle overtake the reply that tells us their callback id; hold them until then.
  private registering = 0;
  private early: { callbackID: number; event: DomainEvent }[] = [];

  constructor(
    private readonly remote: RemoteProcedures,
    private readonly logger: Logger,
  ) {}

  handleMessage(proc: number, body: Buffer): void {
    const decode = REMOTE_MESSAGE_DECODERS[proc];
    if (decode === undefined) {
      this.logger.debug('unknown event message', { procedure: proc });
      return;
    }
    let routed: { callbackID: number; event: DomainEvent } | null;
    try {
      const message = decode(new XdrReader(body));
      routed = toEvent(proc, message) ?? this.toOther(proc, message);
    } catch (err) {
      this.logger.warn('cannot decode event message', { procedure: proc, error: String(err) });
      return;
    }
    if (routed === null) return;
    this.deliver(routed);
  }

  private deliver(routed: { callbackID: number; event: DomainEvent }): void {
    const sub = this.byCallback.get(routed.callbackID);
    if (sub === undefined) {
      if (this.registering > 0) this.early.push(routed);
      else this.logger.debug('event for unknown callback', { callbackID: routed.callbackID });
      return;
    }
    if (routed.event.kind === 'other') routed.event.eventId = sub.eventId;
    sub.queue.push(routed.event);
  }

  /** Callback-style messages all start with callbackID; the domain sits at `dom` or `msg.dom`. */
  private toOther(proc: number, message: RemoteMessage): { callbackID: number; event: DomainEvent } | null {
    const m = message as {
      callbackID?: unknown;
      dom?: RemoteNonnullDomain;
      msg?: { dom?: RemoteNonnullDomain };
    };
    if (typeof m.callbackID !== 'number') return null;
    const dom = m.dom ?? m.msg?.dom;
    // Every domain event names its domain; anything else is not ours to route.
    if (dom === undefined) return null;
    const event: DomainEvent = {
      kind: 'other',
      eventId: -1,
      procedure: proc,
      name: REMOTE_PROCEDURE_NAMES[proc] ?? String(proc),
      domain: fromRemoteDomain(dom),
      message,
    };
    return { callbackID: m.callbackID, event };
  }

  /** Fails every subscription (the connection is gone). */
  closeAll(reason: Error): void {
    const queues = [...this.byCallback.values()];
    this.byCallback.clear();
    for (const q of new Set(queues.map((s) => s.queue))) q.fail(reason);
  }

  async subscribe(opts: DomainEventOptions = {}): Promise<DomainEventStream> {
    const kinds =
      opts.kinds ?? (opts.otherEventIds ? [] : (Object.keys(EVENT_IDS) as (keyof typeof EVENT_IDS)[]));
    const eventIds = [...kinds.map((k) => EVENT_IDS[k]), ...(opts.otherEventIds ?? [])];
    const ids: number[] = [];
    const deregister = () => {
      for (const id of ids) this.byCallback.delete(id);
      // Best effort: if the connection is gone the daemon has dropped the callbacks already.
      for (const id of ids.splice(0)) {
        this.remote.connectDomainEventCallbackDeregisterAny({ callbackID: id }).catch((err: unknown) => {
          this.logger.debug('deregister failed', { callbackID: id, error: String(err) });
        });
      }
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const queue = new EventQueue<DomainEvent>({
      onReturn: deregister,
      maxBuffered: opts.maxBuffered,
      overflow: opts.overflow,
      overflowError: (max) =>
        new LibvirtClientError('EVENT_OVERFLOW', `more than ${max} domain events waiting to be read`),
    });
    const onAbort = () => queue.end();
    this.registering++;
    try {
      for (const eventId of eventIds) {
        const ret = await this.remote.connectDomainEventCallbackRegisterAny(
          { eventID: eventId, dom: opts.domain ? toRemoteDomain(opts.domain) : null },
          { signal: opts.signal },
        );
        ids.push(ret.callbackID);
        this.byCallback.set(ret.callbackID, { queue, eventId });
      }
    } catch (err) {
      queue.end();
      throw err;
    } finally {
      this.registering--;
      const early = this.early;
      this.early = [];
      for (const e of early) this.deliver(e);
    }
    if (opts.signal?.aborted) queue.end();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    return queue;
  }
}
