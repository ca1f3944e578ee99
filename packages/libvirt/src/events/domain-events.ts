import { type Domain, fromRemoteDomain } from '../domain.ts';
import {
  VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
  VIR_DOMAIN_EVENT_ID_LIFECYCLE,
  VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
  VIR_DOMAIN_EVENT_ID_REBOOT,
} from '../protocol/libvirt-constants.gen.ts';
import {
  REMOTE_MESSAGE_DECODERS,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_JOB_COMPLETED,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION,
  REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT,
  REMOTE_PROCEDURE_NAMES,
  type RemoteMessage,
} from '../protocol/remote-procedures.gen.ts';
import type {
  RemoteDomainEventCallbackJobCompletedMsg,
  RemoteDomainEventCallbackLifecycleMsg,
  RemoteDomainEventCallbackMigrationIterationMsg,
  RemoteDomainEventCallbackRebootMsg,
  RemoteNonnullDomain,
} from '../protocol/remote-types.gen.ts';
import {
  fromRemoteTypedParam,
  type TypedParam,
  type TypedParamRecord,
  typedParamsToRecord,
} from '../typed-params.ts';
import { XdrReader } from '../xdr/index.ts';
import type { OverflowPolicy } from './event-queue.ts';

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
function toEvent(proc: number, msg: unknown): RoutedEvent | null {
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

/** Where domain event streams come from (the connection's DomainEventHub). */
export interface DomainEventSource {
  subscribe(opts?: DomainEventOptions): Promise<DomainEventStream>;
}

/** A decoded event and the daemon's callback id it was sent for. */
export interface RoutedEvent {
  callbackID: number;
  event: DomainEvent;
}

/**
 * Decodes one event message: the four mapped kinds, or `other` for any callback-style domain event
 * (its eventId is filled in by the router, which knows what the callback was registered for).
 * null for messages that are not callback-style domain events.
 */
export function decodeDomainEvent(proc: number, body: Buffer): RoutedEvent | null {
  const decode = REMOTE_MESSAGE_DECODERS[proc];
  if (decode === undefined) return null;
  const message = decode(new XdrReader(body));
  return toEvent(proc, message) ?? toOther(proc, message);
}

/** Callback-style messages all start with callbackID; the domain sits at `dom` or `msg.dom`. */
function toOther(proc: number, message: RemoteMessage): RoutedEvent | null {
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

/** The VIR_DOMAIN_EVENT_ID_* values a subscription asks for. */
export function eventIdsOf(opts: DomainEventOptions): number[] {
  const kinds =
    opts.kinds ?? (opts.otherEventIds ? [] : (Object.keys(EVENT_IDS) as (keyof typeof EVENT_IDS)[]));
  return [...new Set([...kinds.map((k) => EVENT_IDS[k]), ...(opts.otherEventIds ?? [])])];
}
