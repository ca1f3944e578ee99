import { type Domain, fromRemoteDomain, toRemoteDomain, uuidToBytes } from './domain.ts';
import { HostApi } from './host-api.ts';
import type { CallOptions } from './rpc/remote-caller.ts';

export interface DomainInfo {
  /** virDomainState. */
  state: number;
  maxMemKiB: bigint;
  memoryKiB: bigint;
  nrVirtCpu: number;
  cpuTimeNs: bigint;
}

/** Domains: listing, lookup, definition and lifecycle. */
export class DomainApi extends HostApi {
  // ---- listing and lookup ----

  /** `flags`: VIR_CONNECT_LIST_DOMAINS_* (0 = all). */
  async connectListAllDomains(flags = 0, opts?: CallOptions): Promise<Domain[]> {
    return (await this.remote.connectListAllDomains({ needResults: 1, flags }, opts)).domains.map(
      fromRemoteDomain,
    );
  }

  async domainLookupByUuid(uuid: string, opts?: CallOptions): Promise<Domain> {
    return fromRemoteDomain((await this.remote.domainLookupByUuid({ uuid: uuidToBytes(uuid) }, opts)).dom);
  }

  async domainLookupByName(name: string, opts?: CallOptions): Promise<Domain> {
    return fromRemoteDomain((await this.remote.domainLookupByName({ name }, opts)).dom);
  }

  async domainGetInfo(dom: Domain, opts?: CallOptions): Promise<DomainInfo> {
    const r = await this.remote.domainGetInfo({ dom: toRemoteDomain(dom) }, opts);
    return {
      state: r.state,
      maxMemKiB: r.maxMem,
      memoryKiB: r.memory,
      nrVirtCpu: r.nrVirtCpu,
      cpuTimeNs: r.cpuTime,
    };
  }

  /** virDomainState and its per-state reason code. */
  async domainGetState(dom: Domain, opts?: CallOptions): Promise<{ state: number; reason: number }> {
    return this.remote.domainGetState({ dom: toRemoteDomain(dom), flags: 0 }, opts);
  }

  /** `flags`: VIR_DOMAIN_XML_* (SECURE, INACTIVE, MIGRATABLE …). */
  async domainGetXmlDesc(dom: Domain, flags = 0, opts?: CallOptions): Promise<string> {
    return (await this.remote.domainGetXmlDesc({ dom: toRemoteDomain(dom), flags }, opts)).xml;
  }

  // ---- domains: definition and lifecycle ----

  async domainDefineXml(xml: string, flags = 0, opts?: CallOptions): Promise<Domain> {
    return fromRemoteDomain((await this.remote.domainDefineXmlFlags({ xml, flags }, opts)).dom);
  }

  async domainUndefine(dom: Domain, flags = 0, opts?: CallOptions): Promise<void> {
    await this.remote.domainUndefineFlags({ dom: toRemoteDomain(dom), flags }, opts);
  }

  /** Starts a defined domain; returns it with its new id. `flags`: VIR_DOMAIN_START_*. */
  async domainCreate(dom: Domain, flags = 0, opts?: CallOptions): Promise<Domain> {
    return fromRemoteDomain(
      (await this.remote.domainCreateWithFlags({ dom: toRemoteDomain(dom), flags }, opts)).dom,
    );
  }

  /** Starts a transient domain from XML. */
  async domainCreateXml(xml: string, flags = 0, opts?: CallOptions): Promise<Domain> {
    return fromRemoteDomain((await this.remote.domainCreateXml({ xmlDesc: xml, flags }, opts)).dom);
  }

  async domainShutdown(dom: Domain, flags = 0, opts?: CallOptions): Promise<void> {
    await this.remote.domainShutdownFlags({ dom: toRemoteDomain(dom), flags }, opts);
  }

  async domainDestroy(dom: Domain, flags = 0, opts?: CallOptions): Promise<void> {
    await this.remote.domainDestroyFlags({ dom: toRemoteDomain(dom), flags }, opts);
  }

  async domainReboot(dom: Domain, flags = 0, opts?: CallOptions): Promise<void> {
    await this.remote.domainReboot({ dom: toRemoteDomain(dom), flags }, opts);
  }

  async domainReset(dom: Domain, opts?: CallOptions): Promise<void> {
    await this.remote.domainReset({ dom: toRemoteDomain(dom), flags: 0 }, opts);
  }

  async domainSuspend(dom: Domain, opts?: CallOptions): Promise<void> {
    await this.remote.domainSuspend({ dom: toRemoteDomain(dom) }, opts);
  }

  async domainResume(dom: Domain, opts?: CallOptions): Promise<void> {
    await this.remote.domainResume({ dom: toRemoteDomain(dom) }, opts);
  }
}
