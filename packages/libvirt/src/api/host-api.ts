import type { RemoteProcedures } from '../protocol/remote-procedures.gen.ts';
import type { CallOptions } from '../rpc/remote-caller.ts';

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

/**
 * The host behind a connection (`conn.host`): names, versions, capabilities, node figures.
 * virConnectGetX / virNodeGetX become `getX`.
 */
export class HostApi {
  constructor(private readonly remote: RemoteProcedures) {}

  /** virConnectGetHostname. */
  async getHostname(opts?: CallOptions): Promise<string> {
    return (await this.remote.connectGetHostname(opts)).hostname;
  }

  /** The daemon's libvirt version, major * 1,000,000 + minor * 1,000 + release. */
  async getLibVersion(opts?: CallOptions): Promise<number> {
    return Number((await this.remote.connectGetLibVersion(opts)).libVer);
  }

  /** The hypervisor's version (e.g. QEMU's), encoded as the library version. */
  async getVersion(opts?: CallOptions): Promise<number> {
    return Number((await this.remote.connectGetVersion(opts)).hvVer);
  }

  /** The capabilities XML. */
  async getCapabilities(opts?: CallOptions): Promise<string> {
    return (await this.remote.connectGetCapabilities(opts)).capabilities;
  }

  /** virNodeGetInfo. */
  async getNodeInfo(opts?: CallOptions): Promise<NodeInfo> {
    const r = await this.remote.nodeGetInfo(opts);
    // `char model[32]`: one XDR int per byte, NUL-terminated.
    const end = r.model.indexOf(0);
    const bytes = r.model.slice(0, end < 0 ? undefined : end).map((c) => c & 0xff);
    const { memory, cpus, mhz, nodes, sockets, cores, threads } = r;
    return {
      model: Buffer.from(bytes).toString('latin1'),
      memoryKiB: memory,
      cpus,
      mhz,
      nodes,
      sockets,
      cores,
      threads,
    };
  }

  /** Cumulative CPU times in ns (`kernel`, `user`, `idle`, `iowait` …); cpuNum -1 = all CPUs. */
  async getCpuStats(cpuNum = -1, flags = 0, opts?: CallOptions): Promise<Record<string, bigint>> {
    // libvirt's two-step: ask how many fields there are, then fetch them.
    const { nparams } = await this.remote.nodeGetCpuStats({ cpuNum, nparams: 0, flags }, opts);
    const r = await this.remote.nodeGetCpuStats({ cpuNum, nparams, flags }, opts);
    return Object.fromEntries(r.params.map((p) => [p.field, p.value]));
  }

  /** Memory figures in KiB (`total`, `free`, `buffers`, `cached`); cellNum -1 = whole host. */
  async getMemoryStats(cellNum = -1, flags = 0, opts?: CallOptions): Promise<Record<string, bigint>> {
    const { nparams } = await this.remote.nodeGetMemoryStats({ cellNum, nparams: 0, flags }, opts);
    const r = await this.remote.nodeGetMemoryStats({ cellNum, nparams, flags }, opts);
    return Object.fromEntries(r.params.map((p) => [p.field, p.value]));
  }
}
