import { type Domain, toRemoteDomain, uuidFromBytes, uuidToBytes } from '../domain.ts';
import { LibvirtClientError } from '../errors.ts';
import type { RemoteProcedures } from '../protocol/remote-procedures.gen.ts';
import type { Logger } from '../rpc/logger.ts';
import {
  type DomainEvent,
  type DomainEventOptions,
  type DomainEventSource,
  type DomainEventStream,
  decodeDomainEvent,
  eventIdsOf,
  type RoutedEvent,
} from './domain-events.ts';
import { EventQueue } from './event-queue.ts';

/**
 * One daemon-side callback (an event ID, optionally for one domain) shared by every local stream
 * that asked for it. libvirtd refuses a second registration of the same event ID and domain on one
 * connection ("event callback already tracked"), so, as libvirt's C client does, we register once
 * and fan out locally, and deregister when the last local stream goes.
 */
interface Registration {
  readonly key: string;
  readonly eventId: number;
  readonly domain: Domain | null;
  /** The daemon's callback id while registered. */
  callbackID: number | null;
  readonly streams: Set<EventQueue<DomainEvent>>;
  /** The latest register operation: streams joining a registration in progress wait for it. */
  registered: Promise<void>;
  /** Register/deregister run one after the other per key: the daemon may reorder concurrent calls. */
  chain: Promise<void>;
}

/** Routes domain event messages to streams by the callback id the daemon assigned at registration. */
export class DomainEventHub implements DomainEventSource {
  private readonly byKey = new Map<string, Registration>();
  private readonly byCallback = new Map<number, Registration>();
  // An event can overtake the reply that tells us its callback id: hold it until then.
  private registering = 0;
  private early: RoutedEvent[] = [];

  constructor(
    private readonly remote: RemoteProcedures,
    private readonly logger: Logger,
  ) {}

  /** Takes one remote-program MESSAGE packet; anything but a domain event is ignored. */
  handleMessage(proc: number, body: Buffer): void {
    let routed: RoutedEvent | null;
    try {
      routed = decodeDomainEvent(proc, body);
    } catch (err) {
      this.logger.warn('cannot decode event message', { procedure: proc, error: String(err) });
      return;
    }
    if (routed === null) {
      this.logger.debug('not a domain event message', { procedure: proc });
      return;
    }
    this.deliver(routed);
  }

  private deliver(routed: RoutedEvent): void {
    const reg = this.byCallback.get(routed.callbackID);
    if (reg === undefined) {
      if (this.registering > 0) this.early.push(routed);
      else this.logger.debug('event for unknown callback', { callbackID: routed.callbackID });
      return;
    }
    if (routed.event.kind === 'other') routed.event.eventId = reg.eventId;
    for (const stream of reg.streams) stream.push(routed.event);
  }

  /** Fails every stream (the connection is gone; the daemon dropped our callbacks with it). */
  closeAll(reason: Error): void {
    const streams = new Set([...this.byKey.values()].flatMap((r) => [...r.streams]));
    this.byKey.clear();
    this.byCallback.clear();
    for (const s of streams) s.fail(reason);
  }

  async subscribe(opts: DomainEventOptions = {}): Promise<DomainEventStream> {
    const domain = opts.domain ?? null;
    // Ids are compared as values: one registration per domain whatever the UUID's spelling.
    const target = domain === null ? '*' : uuidFromBytes(uuidToBytes(domain.uuid));
    const joined: Registration[] = [];
    let ended = false;
    const queue = new EventQueue<DomainEvent>({
      maxBuffered: opts.maxBuffered,
      overflow: opts.overflow,
      overflowError: (max) =>
        new LibvirtClientError('EVENT_OVERFLOW', `more than ${max} domain events waiting to be read`),
      onReturn: () => {
        ended = true;
        opts.signal?.removeEventListener('abort', onAbort);
        for (const reg of joined.splice(0)) this.leave(reg, queue);
      },
    });
    const onAbort = () => queue.end();
    try {
      for (const eventId of eventIdsOf(opts)) {
        const reg = this.join(`${eventId}/${target}`, eventId, domain, queue);
        joined.push(reg);
        await abortable(reg.registered, opts.signal);
        if (ended) break;
      }
    } catch (err) {
      queue.end();
      throw err;
    }
    if (opts.signal?.aborted) queue.end();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    return queue;
  }

  private join(key: string, eventId: number, domain: Domain | null, stream: EventQueue<DomainEvent>) {
    let reg = this.byKey.get(key);
    if (reg === undefined) {
      const idle = Promise.resolve();
      reg = { key, eventId, domain, callbackID: null, streams: new Set(), registered: idle, chain: idle };
      this.byKey.set(key, reg);
    }
    reg.streams.add(stream);
    if (reg.streams.size === 1) {
      const r = reg;
      reg.registered = this.enqueue(reg, () => this.register(r));
    }
    return reg;
  }

  private leave(reg: Registration, stream: EventQueue<DomainEvent>): void {
    reg.streams.delete(stream);
    if (reg.streams.size > 0) return;
    // Background: nobody waits for a deregistration; a later join queues behind it.
    this.enqueue(reg, () => this.deregister(reg)).catch((err: unknown) => {
      this.logger.debug('deregister failed', { eventId: reg.eventId, error: String(err) });
    });
  }

  /** Runs `op` after the key's previous operation, whatever its outcome. */
  private enqueue(reg: Registration, op: () => Promise<void>): Promise<void> {
    const next = reg.chain.then(op, op);
    reg.chain = next.catch(() => undefined);
    return next;
  }

  private async register(reg: Registration): Promise<void> {
    // Everyone left (or an earlier registration is still in place) while this waited its turn.
    if (reg.streams.size === 0 || reg.callbackID !== null) return;
    this.registering++;
    try {
      const ret = await this.remote.connectDomainEventCallbackRegisterAny({
        eventID: reg.eventId,
        dom: reg.domain === null ? null : toRemoteDomain(reg.domain),
      });
      reg.callbackID = ret.callbackID;
      this.byCallback.set(ret.callbackID, reg);
    } catch (err) {
      // Every stream waiting on this registration fails with `err`; none of them stays joined.
      reg.streams.clear();
      this.forget(reg);
      throw err;
    } finally {
      this.registering--;
      const early = this.early;
      this.early = [];
      for (const e of early) this.deliver(e);
    }
  }

  private async deregister(reg: Registration): Promise<void> {
    if (reg.streams.size > 0) return;
    const id = reg.callbackID;
    if (id !== null) this.byCallback.delete(id);
    try {
      if (id !== null) await this.remote.connectDomainEventCallbackDeregisterAny({ callbackID: id });
    } finally {
      // Whatever the daemon said: on a closed connection it has dropped the callback already.
      reg.callbackID = null;
      this.forget(reg);
    }
  }

  /** Drops an unused registration from the map unless a newer one took its key. */
  private forget(reg: Registration): void {
    if (this.byKey.get(reg.key) === reg && reg.streams.size === 0) this.byKey.delete(reg.key);
  }
}

/** `p`, or ABORTED as soon as `signal` fires (the operation behind `p` goes on). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(aborted(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function aborted(signal: AbortSignal): LibvirtClientError {
  return new LibvirtClientError('ABORTED', 'event subscription aborted', { cause: signal.reason });
}
