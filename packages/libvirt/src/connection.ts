import { type DialOptions, dial } from './dial/dial.ts';
import { parseLibvirtUri } from './dial/libvirt-uri.ts';
import { DomainEventHub, type DomainEventOptions, type DomainEventStream } from './domain-events.ts';
import { LibvirtClientError } from './errors.ts';
import { JobApi } from './job-api.ts';
import { VIR_DRV_FEATURE_PROGRAM_KEEPALIVE } from './protocol/libvirt-constants.gen.ts';
import { RemoteProcedures } from './protocol/remote-procedures.gen.ts';
import { REMOTE_AUTH_NONE, REMOTE_AUTH_POLKIT } from './protocol/remote-types.gen.ts';
import { silentLogger } from './rpc/logger.ts';
import type { CallOptions } from './rpc/remote-caller.ts';
import { RpcClient, type RpcClientOptions } from './rpc/rpc-client.ts';

export interface ConnectOptions extends DialOptions, RpcClientOptions {
  /** Open read-only (VIR_CONNECT_RO). */
  readOnly?: boolean;
}

/**
 * One connection to a libvirt daemon, in libvirt's own terms (method names follow the C API without
 * its `vir` prefix). Every method takes CallOptions (AbortSignal + deadline). Anything not wrapped
 * here is reachable, typed, through `remote` (every non-stream procedure of remote_protocol.x).
 * The methods live in layers by subject: HostApi (host-api.ts) ← DomainApi (domain-api.ts) ← JobApi
 * (job-api.ts: statistics, jobs, migration) ← this class (opening, closing, events).
 */
export class LibvirtConnection extends JobApi {
  private readonly events: DomainEventHub;

  private constructor(
    readonly rpc: RpcClient,
    /** The URI this connection was opened with, and the name the daemon opened. */
    readonly uri: string,
    readonly name: string,
    opts: ConnectOptions,
  ) {
    super(new RemoteProcedures(rpc));
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
