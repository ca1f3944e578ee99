import { type DialOptions, dial } from './dial/dial.ts';
import { parseLibvirtUri } from './dial/libvirt-uri.ts';
import { type Domain, fromRemoteDomain, toRemoteDomain, uuidToBytes } from './domain.ts';
import { DomainEventHub, type DomainEventOptions, type DomainEventStream } from './domain-events.ts';
import { LibvirtClientError } from './errors.ts';
import { type MigrateParams, migrateParamsToTyped } from './migrate-params.ts';
import {
  VIR_DRV_FEATURE_PROGRAM_KEEPALIVE,
  VIR_MIGRATE_PEER2PEER,
} from './protocol/libvirt-constants.gen.ts';
import { RemoteProcedures } from './protocol/remote-procedures.gen.ts';
import {
  REMOTE_AUTH_NONE,
  REMOTE_AUTH_POLKIT,
  type RemoteDomainGetJobInfoRet,
} from './protocol/remote-types.gen.ts';
import { silentLogger } from './rpc/logger.ts';
import type { CallOptions } from './rpc/remote-caller.ts';
import { RpcClient, type RpcClientOptions } from './rpc/rpc-client.ts';
import {
  fromRemoteTypedParam,
  type TypedParam,
  type TypedParamRecord,
  toRemoteTypedParam,
  typedParamsToRecord,
} from './typed-params.ts';

export interface ConnectOptions extends DialOptions, RpcClientOptions {
  /** Open read-only (VIR_CONNECT_RO). */
  readOnly?: boolean;
}

export interface NodeInfo {
  model: string;
  memoryKiB: bigint;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

export interface DomainInfo {
  /** virDomainState. */
  state: number;
  maxMemKiB: bigint;
  memoryKiB: bigint;
  nrVirtCpu: number;
  cpuTimeNs: bigint;
}

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

/**
 * One connection to a libvirt daemon, in libvirt's own terms (method names follow the C API without
 * its `vir` prefix). Every method takes CallOptions (AbortSignal + deadline). Anything not wrapped
 * here is reachable, typed, through `remote` (every non-stream procedure of remote_protocol.x).
 */
export class LibvirtConnection {
  readonly remote: RemoteProcedures;
  private readonly events: DomainEventHub;

  private constructor(
    readonly rpc: RpcClient,
    /** The URI this connection was opened with, and the name the daemon opened. */
    readonly uri: string,
    readonly name: string,
    opts: ConnectOptions,
  ) {
    this.remote = new RemoteProcedures(rpc);
    this.events = new DomainEventHub(this.remote, opts.logger ?? silentLogger);
    rpc.onMessage((proc, body) => this.events.handleMessage(proc, body));
    rpc.onClose((reason) => this.events.closeAll(reason));
  }

  /** Dials `uri` (see README for the accepted forms), authenticates (none/polkit), opens the driver. */
  static async connect(uri: string, opts: ConnectOptions = {}): Promise<LibvirtConnection> {
    const parsed = parseLibvirtUri(uri);
    const stream = await dial(parsed, opts);
    const conn = new LibvirtConnection(new RpcClient(stream, opts), uri, parsed.name, opts);
    const callOpts: CallOptions = { signal: opts.signal };
    try {
      await conn.authenticate(callOpts);
      await conn.remote.connectOpen({ name: parsed.name, flags: opts.readOnly ? 1 : 0 }, callOpts);
      if ((opts.keepalive?.intervalMs ?? 5000) > 0) {
        // Asking about the keepalive feature is what makes libvirtd start pinging us too.
        await conn.remote.connectSupportsFeature({ feature: VIR_DRV_FEATURE_PROGRAM_KEEPALIVE }, callOpts);
      }
    } catch (err) {
      conn.rpc.close();
      throw err;
    }
    return conn;
  }

  private async authenticate(opts: CallOptions): Promise<void> {
    const { types } = await this.remote.authList(opts);
    if (types.length === 0 || types.includes(REMOTE_AUTH_NONE)) return;
    if (types.includes(REMOTE_AUTH_POLKIT)) {
      const { complete } = await this.remote.authPolkit(opts);
      if (complete !== 0) return;
    }
    throw new LibvirtClientError(
      'AUTH_UNSUPPORTED',
      `daemon requires authentication types [${types.join(', ')}]`,
    );
  }

  get closed(): Promise<Error> {
    return this.rpc.closed;
  }

  get isClosed(): boolean {
    return this.rpc.isClosed;
  }

  /** Calls `listener` once with the reason when the connection closes (at once if it already has). */
  onClose(listener: (reason: Error) => void): void {
    this.rpc.onClose(listener);
  }

  /** Says goodbye to the daemon (CONNECT_CLOSE), then closes the socket. Never throws. */
  async close(opts: CallOptions = { timeoutMs: 2000 }): Promise<void> {
    if (this.rpc.isClosed) return;
    try {
      await this.remote.connectClose(opts);
    } catch {
      // The socket is closed below whatever the daemon said.
    }
    this.rpc.close();
  }

  // ---- host ----

  async connectGetHostname(opts?: CallOptions): Promise<string> {
    return (await this.remote.connectGetHostname(opts)).hostname;
  }

  /** libvirt library version of the daemon, major * 1,000,000 + minor * 1,000 + release. */
  async connectGetLibVersion(opts?: CallOptions): Promise<number> {
    return Number((await this.remote.connectGetLibVersion(opts)).libVer);
  }

  /** Hypervisor version, same encoding as the library version. */
  async connectGetVersion(opts?: CallOptions): Promise<number> {
    return Number((await this.remote.connectGetVersion(opts)).hvVer);
  }

  async connectGetCapabilities(opts?: CallOptions): Promise<string> {
    return (await this.remote.connectGetCapabilities(opts)).capabilities;
  }

  async nodeGetInfo(opts?: CallOptions): Promise<NodeInfo> {
    const r = await this.remote.nodeGetInfo(opts);
    // `char model[32]`: one XDR int per byte, NUL-terminated.
    const end = r.model.indexOf(0);
    const model = Buffer.from(r.model.slice(0, end < 0 ? undefined : end).map((c) => c & 0xff)).toString(
      'latin1',
    );
    const { memory, cpus, mhz, nodes, sockets, cores, threads } = r;
    return { model, memoryKiB: memory, cpus, mhz, nodes, sockets, cores, threads };
  }

  /** Cumulative CPU times in ns (`kernel`, `user`, `idle`, `iowait` …); cpuNum -1 = all CPUs. */
  async nodeGetCpuStats(cpuNum = -1, flags = 0, opts?: CallOptions): Promise<Record<string, bigint>> {
    // libvirt's two-step: ask how many fields there are, then fetch them.
    const { nparams } = await this.remote.nodeGetCpuStats({ cpuNum, nparams: 0, flags }, opts);
    const r = await this.remote.nodeGetCpuStats({ cpuNum, nparams, flags }, opts);
    return Object.fromEntries(r.params.map((p) => [p.field, p.value]));
  }

  /** Memory figures in KiB (`total`, `free`, `buffers`, `cached`); cellNum -1 = whole host. */
  async nodeGetMemoryStats(cellNum = -1, flags = 0, opts?: CallOptions): Promise<Record<string, bigint>> {
    const { nparams } = await this.remote.nodeGetMemoryStats({ cellNum, nparams: 0, flags }, opts);
    const r = await this.remote.nodeGetMemoryStats({ cellNum, nparams, flags }, opts);
    return Object.fromEntries(r.params.map((p) => [p.field, p.value]));
  }

  // ---- domains: listing and lookup ----

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

  // ---- statistics and jobs ----

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

  // ---- events ----

  /**
   * Registers domain event callbacks and returns their events as an async iterator. Resolves once
   * the daemon has registered them, so no event after this point is missed. Stop with `break`,
   * `return()` or the signal; the callbacks are deregistered then. Fails with INTERRUPTED if the
   * connection closes.
   */
  domainEvents(opts?: DomainEventOptions): Promise<DomainEventStream> {
    return this.events.subscribe(opts);
  }
}

/** Opens a connection; same as `LibvirtConnection.connect`. */
export function connect(uri: string, opts?: ConnectOptions): Promise<LibvirtConnection> {
  return LibvirtConnection.connect(uri, opts);
}
