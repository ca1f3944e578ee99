import { type Domain, toRemoteDomain } from '../domain.ts';
import type { RemoteProcedures } from '../protocol/remote-procedures.gen.ts';
import type { RemoteDomainGetJobInfoRet } from '../protocol/remote-types.gen.ts';
import type { CallOptions } from '../rpc/remote-caller.ts';
import {
  fromRemoteTypedParam,
  type TypedParam,
  type TypedParamRecord,
  typedParamsToRecord,
} from '../typed-params.ts';

/** virDomainJobInfo: `type` is a virDomainJobType; times in ms, data/mem/file figures in bytes. */
export type DomainJobInfo = RemoteDomainGetJobInfoRet;

export interface JobStats {
  /** virDomainJobType. */
  type: number;
  params: TypedParam[];
  stats: TypedParamRecord;
}

/** A domain's background job (`conn.jobs`): migration, save, dump … virDomainXJob → `x`. */
export class JobApi {
  constructor(private readonly remote: RemoteProcedures) {}

  /** virDomainGetJobInfo. */
  async getInfo(dom: Domain, opts?: CallOptions): Promise<DomainJobInfo> {
    return this.remote.domainGetJobInfo({ dom: toRemoteDomain(dom) }, opts);
  }

  /** virDomainGetJobStats. `flags`: VIR_DOMAIN_JOB_STATS_COMPLETED etc. Fields are VIR_DOMAIN_JOB_* names. */
  async getStats(dom: Domain, flags = 0, opts?: CallOptions): Promise<JobStats> {
    const r = await this.remote.domainGetJobStats({ dom: toRemoteDomain(dom), flags }, opts);
    const params = r.params.map(fromRemoteTypedParam);
    return { type: r.type, params, stats: typedParamsToRecord(params) };
  }

  /** virDomainAbortJob. */
  async abort(dom: Domain, opts?: CallOptions): Promise<void> {
    await this.remote.domainAbortJob({ dom: toRemoteDomain(dom) }, opts);
  }
}
