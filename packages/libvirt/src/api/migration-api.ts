import { integerArgument } from '../arguments.ts';
import { type Domain, toRemoteDomain } from '../domain.ts';
import { VIR_MIGRATE_PEER2PEER } from '../protocol/libvirt-constants.gen.ts';
import type { RemoteProcedures } from '../protocol/remote-procedures.gen.ts';
import type { CallOptions } from '../rpc/remote-caller.ts';
import { type TypedParam, toRemoteTypedParam } from '../typed-params.ts';
import { type MigrateParams, migrateParamsToTyped } from './migrate-params.ts';

/** Live migration (`conn.migration`) and its tunables. virDomainMigrateX → `x`. */
export class MigrationApi {
  constructor(private readonly remote: RemoteProcedures) {}

  /**
   * Peer-to-peer migration: the source daemon (this connection) drives the whole migration to the
   * daemon at `destUri` (e.g. `qemu+tcp://10.0.0.2/system`). VIR_MIGRATE_PEER2PEER is always added to
   * `flags` (VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE …). Resolves
   * when the migration is over; give it a deadline that fits the guest (opts.timeoutMs, 0 = none).
   */
  async toUri(
    dom: Domain,
    destUri: string,
    params: MigrateParams,
    flags: number,
    opts?: CallOptions,
  ): Promise<void> {
    const typed = migrateParamsToTyped(params);
    await this.perform3Params(dom, destUri, typed, flags | VIR_MIGRATE_PEER2PEER, opts);
  }

  /** REMOTE_PROC_DOMAIN_MIGRATE_PERFORM3_PARAMS with an empty cookie, as libvirt does for peer-to-peer. */
  async perform3Params(
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

  /** virDomainMigrateSetMaxDowntime: the pause the final switch-over may take, ms. */
  async setMaxDowntime(dom: Domain, downtimeMs: number | bigint, opts?: CallOptions): Promise<void> {
    const downtime = integerArgument('downtimeMs', downtimeMs);
    await this.remote.domainMigrateSetMaxDowntime({ dom: toRemoteDomain(dom), downtime, flags: 0 }, opts);
  }

  /** virDomainMigrateSetMaxSpeed, MiB/s. `flags`: VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY. */
  async setMaxSpeed(
    dom: Domain,
    bandwidthMiBs: number | bigint,
    flags = 0,
    opts?: CallOptions,
  ): Promise<void> {
    const bandwidth = integerArgument('bandwidthMiBs', bandwidthMiBs);
    await this.remote.domainMigrateSetMaxSpeed({ dom: toRemoteDomain(dom), bandwidth, flags }, opts);
  }
}
