import { type Domain, fromRemoteDomain, toRemoteDomain } from './domain.ts';
import { DomainApi } from './domain-api.ts';
import { type MigrateParams, migrateParamsToTyped } from './migrate-params.ts';
import { VIR_MIGRATE_PEER2PEER } from './protocol/libvirt-constants.gen.ts';
import type { RemoteDomainGetJobInfoRet } from './protocol/remote-types.gen.ts';
import type { CallOptions } from './rpc/remote-caller.ts';
import {
  fromRemoteTypedParam,
  type TypedParam,
  type TypedParamRecord,
  toRemoteTypedParam,
  typedParamsToRecord,
} from './typed-params.ts';

export interface DomainStats {
  domain: Domain;
  params: TypedParam[];
  stats: TypedParamRecord;
}

/** virDomainJobInfo: `type` is a virDomainJobType; times in ms, data/mem/file figures in bytes. */
export type DomainJobInfo = RemoteDomainGetJobInfoRet;

export interface JobStats {
  /** virDomainJobType. */
  type: number;
  params: TypedParam[];
  stats: TypedParamRecord;
}

/** Bulk statistics, jobs and migration. */
export class JobApi extends DomainApi {
  /**
   * Bulk statistics. `stats`: VIR_DOMAIN_STATS_* bitmask (0 = everything the driver has); `flags`:
   * VIR_CONNECT_GET_ALL_DOMAINS_STATS_*. With `domains`, only those (virDomainListGetStats).
   */
  async connectGetAllDomainStats(
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

  async domainGetJobInfo(dom: Domain, opts?: CallOptions): Promise<DomainJobInfo> {
    return this.remote.domainGetJobInfo({ dom: toRemoteDomain(dom) }, opts);
  }

  /** `flags`: VIR_DOMAIN_JOB_STATS_COMPLETED etc. Fields are VIR_DOMAIN_JOB_* names. */
  async domainGetJobStats(dom: Domain, flags = 0, opts?: CallOptions): Promise<JobStats> {
    const r = await this.remote.domainGetJobStats({ dom: toRemoteDomain(dom), flags }, opts);
    const params = r.params.map(fromRemoteTypedParam);
    return { type: r.type, params, stats: typedParamsToRecord(params) };
  }

  async domainAbortJob(dom: Domain, opts?: CallOptions): Promise<void> {
    await this.remote.domainAbortJob({ dom: toRemoteDomain(dom) }, opts);
  }

  async domainMigrateSetMaxDowntime(
    dom: Domain,
    downtimeMs: number | bigint,
    opts?: CallOptions,
  ): Promise<void> {
    await this.remote.domainMigrateSetMaxDowntime(
      { dom: toRemoteDomain(dom), downtime: BigInt(downtimeMs), flags: 0 },
      opts,
    );
  }

  async domainMigrateSetMaxSpeed(
    dom: Domain,
    bandwidthMiBs: number | bigint,
    flags = 0,
    opts?: CallOptions,
  ): Promise<void> {
    await this.remote.domainMigrateSetMaxSpeed(
      { dom: toRemoteDomain(dom), bandwidth: BigInt(bandwidthMiBs), flags },
      opts,
    );
  }

  /**
   * Peer-to-peer migration: the source daemon (this connection) drives the whole migration to the
   * daemon at `destUri` (e.g. `qemu+tcp://10.0.0.2/system`). VIR_MIGRATE_PEER2PEER is always added to
   * `flags` (VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE …). Resolves
   * when the migration is over; give it a deadline that fits the guest (opts.timeoutMs, 0 = none).
   */
  async domainMigrateToUri(
    dom: Domain,
    destUri: string,
    params: MigrateParams,
    flags: number,
    opts?: CallOptions,
  ): Promise<void> {
    await this.domainMigratePerform3Params(
      dom,
      destUri,
      migrateParamsToTyped(params),
      flags | VIR_MIGRATE_PEER2PEER,
      opts,
    );
  }

  /** REMOTE_PROC_DOMAIN_MIGRATE_PERFORM3_PARAMS with an empty cookie, as libvirt does for peer-to-peer. */
  async domainMigratePerform3Params(
    dom: Domain,
    dconnuri: string | null,
    params: TypedParam[],
    flags: number,
    opts?: CallOptions,
  ): Promise<Uint8Array> {
    const r = await this.remote.domainMigratePerform3Params(
      {
        dom: toRemoteDomain(dom),
        dconnuri,
        params: params.map(toRemoteTypedParam),
        cookieIn: new Uint8Array(0),
        flags,
      },
      opts,
    );
    return r.cookieOut;
  }
}
