import type { RemoteProcedures } from './protocol/remote-procedures.gen.ts';
import type { CallOptions } from './rpc/remote-caller.ts';

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

/** The host's side of a connection: names, versions, capabilities, node figures. */
export class HostApi {
  protected constructor(
    /** Every non-stream procedure of remote_protocol.x, typed: what these methods are made of. */
    readonly remote: RemoteProcedures,
  ) {}

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
}
