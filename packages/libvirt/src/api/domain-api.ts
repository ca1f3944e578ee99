import { type Domain, fromRemoteDomain, toRemoteDomain, uuidToBytes } from '../domain.ts';
import type { DomainEventOptions, DomainEventSource, DomainEventStream } from '../events/domain-events.ts';
import type { RemoteProcedures } from '../protocol/remote-procedures.gen.ts';
import type { CallOptions } from '../rpc/remote-caller.ts';
import {
  fromRemoteTypedParam,
  type TypedParam,
  type TypedParamRecord,
  typedParamsToRecord,
} from '../typed-params.ts';

export interface DomainInfo {
  /** virDomainState. */
  state: number;
  maxMemKiB: bigint;
  memoryKiB: bigint;
  nrVirtCpu: number;
  cpuTimeNs: bigint;
}

export interface DomainState {
  /** virDomainState (VIR_DOMAIN_RUNNING …). */
  state: number;
  /** The state's reason code (virDomainRunningReason …). */
  reason: number;
}

export interface DomainStats {
  domain: Domain;
  params: TypedParam[];
  stats: TypedParamRecord;
}

/**
 * Domains (`conn.domains`): listing, lookup, definition, lifecycle, bulk statistics and events.
 * virDomainX / virConnectXDomains become `x` (virDomainGetInfo → `getInfo`, virDomainCreate → `create`).
 */
export class DomainApi {
  constructor(
    private readonly remote: RemoteProcedures,
    private readonly eventSource: DomainEventSource,
  ) {}

  /** virConnectListAllDomains. `flags`: VIR_CONNECT_LIST_DOMAINS_* (0 = all). */
  async listAll(flags = 0, opts?: CallOptions): Promise<Domain[]> {
    const r = await this.remote.connectListAllDomains({ needResults: 1, flags }, opts);
    return r.domains.map(fromRemoteDomain);
  }

  /** `uuid` in any case spelling; not a UUID = INVALID_ARGUMENT, unknown = VIR_ERR_NO_DOMAIN. */
  async lookupByUuid(uuid: string, opts?: CallOptions): Promise<Domain> {
    return fromRemoteDomain((await this.remote.domainLookupByUuid({ uuid: uuidToBytes(uuid) }, opts)).dom);
  }

  async lookupByName(name: string, opts?: CallOptions): Promise<Domain> {
    return fromRemoteDomain((await this.remote.domainLookupByName({ name }, opts)).dom);
  }

  async getInfo(dom: Domain, opts?: CallOptions): Promise<DomainInfo> {
    const r = await this.remote.domainGetInfo({ dom: toRemoteDomain(dom) }, opts);
    return {
      state: r.state,
      maxMemKiB: r.maxMem,
      memoryKiB: r.memory,
      nrVirtCpu: r.nrVirtCpu,
      cpuTimeNs: r.cpuTime,
    };
  }

  async getState(dom: Domain, opts?: CallOptions): Promise<DomainState> {
    return this.remote.domainGetState({ dom: toRemoteDomain(dom), flags: 0 }, opts);
  }

  /** `flags`: VIR_DOMAIN_XML_* (SECURE, INACTIVE, MIGRATABLE …). */
  async getXmlDesc(dom: Domain, flags = 0, opts?: CallOptions): Promise<string> {
    return (await this.remote.domainGetXmlDesc({ dom: toRemoteDomain(dom), flags }, opts)).xml;
  }

  /** Defines (or redefines) a persistent domain. `flags`: VIR_DOMAIN_DEFINE_*. */
  async defineXml(xml: string, flags = 0, opts?: CallOptions): Promise<Domain> {
    return fromRemoteDomain((await this.remote.domainDefineXmlFlags({ xml, flags }, opts)).dom);
  }

  /** `flags`: VIR_DOMAIN_UNDEFINE_*. */
  async undefine(dom: Domain, flags = 0, opts?: CallOptions): Promise<void> {
    await this.remote.domainUndefineFlags({ dom: toRemoteDomain(dom), flags }, opts);
  }

  /** Starts a defined domain; returns it with its new id. `flags`: VIR_DOMAIN_START_*. */
  async create(dom: Domain, flags = 0, opts?: CallOptions): Promise<Domain> {
    const r = await this.remote.domainCreateWithFlags({ dom: toRemoteDomain(dom), flags }, opts);
    return fromRemoteDomain(r.dom);
  }

  /** Starts a transient domain from XML. */
  async createXml(xml: string, flags = 0, opts?: CallOptions): Promise<Domain> {
    return fromRemoteDomain((await this.remote.domainCreateXml({ xmlDesc: xml, flags }, opts)).dom);
  }

  /** Asks the guest to shut down (ACPI, agent …). `flags`: VIR_DOMAIN_SHUTDOWN_*. */
  async shutdown(dom: Domain, flags = 0, opts?: CallOptions): Promise<void> {
    await this.remote.domainShutdownFlags({ dom: toRemoteDomain(dom), flags }, opts);
  }

  /** Stops the domain at once (pulls the plug). `flags`: VIR_DOMAIN_DESTROY_*. */
  async destroy(dom: Domain, flags = 0, opts?: CallOptions): Promise<void> {
    await this.remote.domainDestroyFlags({ dom: toRemoteDomain(dom), flags }, opts);
  }

  /** `flags`: VIR_DOMAIN_REBOOT_*. */
  async reboot(dom: Domain, flags = 0, opts?: CallOptions): Promise<void> {
    await this.remote.domainReboot({ dom: toRemoteDomain(dom), flags }, opts);
  }

  /** A hard reset, no guest cooperation. */
  async reset(dom: Domain, opts?: CallOptions): Promise<void> {
    await this.remote.domainReset({ dom: toRemoteDomain(dom), flags: 0 }, opts);
  }

  async suspend(dom: Domain, opts?: CallOptions): Promise<void> {
    await this.remote.domainSuspend({ dom: toRemoteDomain(dom) }, opts);
  }

  async resume(dom: Domain, opts?: CallOptions): Promise<void> {
    await this.remote.domainResume({ dom: toRemoteDomain(dom) }, opts);
  }

  /**
   * virConnectGetAllDomainStats, or virDomainListGetStats when `domains` are given. `stats`:
   * VIR_DOMAIN_STATS_* bitmask (0 = everything the driver has); `flags`: VIR_CONNECT_GET_ALL_DOMAINS_STATS_*.
   */
  async getAllStats(
    stats = 0,
    flags = 0,
    domains: Domain[] = [],
    opts?: CallOptions,
  ): Promise<DomainStats[]> {
    const r = await this.remote.connectGetAllDomainStats(
      { doms: domains.map(toRemoteDomain), stats, flags },
      opts,
    );
    return r.retStats.map((rec) => {
      const params = rec.params.map(fromRemoteTypedParam);
      return { domain: fromRemoteDomain(rec.dom), params, stats: typedParamsToRecord(params) };
    });
  }

  /**
   * Domain events as an async iterator; resolves once the daemon delivers them, so nothing after
   * this point is missed. Any number of streams may watch the same kinds on one connection (the
   * daemon's callback is registered once and shared). Stop with `break`, `return()` or the signal.
   * Fails with INTERRUPTED when the connection closes.
   */
  events(opts?: DomainEventOptions): Promise<DomainEventStream> {
    return this.eventSource.subscribe(opts);
  }
}
