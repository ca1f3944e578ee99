import type { Duplex } from 'node:stream';
import { DomainApi } from './api/domain-api.ts';
import { HostApi } from './api/host-api.ts';
import { JobApi } from './api/job-api.ts';
import { MigrationApi } from './api/migration-api.ts';
import { type DialOptions, dial } from './dial/dial.ts';
import { parseLibvirtUri } from './dial/libvirt-uri.ts';
import { DomainEventHub } from './events/domain-event-hub.ts';
import { openSession } from './open-session.ts';
import { RemoteProcedures } from './protocol/remote-procedures.gen.ts';
import { silentLogger } from './rpc/logger.ts';
import type { CallOptions } from './rpc/remote-caller.ts';
import { RpcClient, type RpcClientOptions } from './rpc/rpc-client.ts';

export interface OpenOptions extends RpcClientOptions {
  /** Open read-only (VIR_CONNECT_RO). */
  readOnly?: boolean;
  /** Aborts the handshake. */
  signal?: AbortSignal;
}

export interface ConnectOptions extends DialOptions, OpenOptions {}

/**
 * One connection to a libvirt daemon. The API is grouped by subject, each a small object over the
 * same RPC client: `host`, `domains` (with their events), `jobs`, `migration`; anything not wrapped
 * is reachable, typed, through `remote` (every non-stream procedure of remote_protocol.x). Every
 * call takes CallOptions (AbortSignal + deadline).
 */
export class LibvirtConnection {
  /** Every non-stream procedure of remote_protocol.x, typed: what the subjects are made of. */
  readonly remote: RemoteProcedures;
  readonly host: HostApi;
  readonly domains: DomainApi;
  readonly jobs: JobApi;
  readonly migration: MigrationApi;

  private constructor(
    readonly rpc: RpcClient,
    /** The name the daemon opened, e.g. `qemu:///system`. */
    readonly name: string,
    opts: OpenOptions,
  ) {
    this.remote = new RemoteProcedures(rpc);
    const domainEvents = new DomainEventHub(this.remote, opts.logger ?? silentLogger);
    rpc.onMessage((proc, body) => domainEvents.handleMessage(proc, body));
    rpc.onClose((reason) => domainEvents.closeAll(reason));
    this.host = new HostApi(this.remote);
    this.domains = new DomainApi(this.remote, domainEvents);
    this.jobs = new JobApi(this.remote);
    this.migration = new MigrationApi(this.remote);
  }

  /** Dials `uri` (see README for the accepted forms), then opens it as `open` does. */
  static async connect(uri: string, opts: ConnectOptions = {}): Promise<LibvirtConnection> {
    const parsed = parseLibvirtUri(uri);
    return LibvirtConnection.open(await dial(parsed, opts), parsed.name, opts);
  }

  /**
   * Opens the driver `name` (e.g. `qemu:///system`) over a stream that is already connected to a
   * daemon: a socket dialed by the caller, an SSH channel, a proxy (go-libvirt's AlreadyConnected).
   * Authenticates (none/polkit) and, with keepalive on, asks the daemon to ping us. The connection
   * owns the stream from here on: a failed open destroys it.
   */
  static async open(stream: Duplex, name: string, opts: OpenOptions = {}): Promise<LibvirtConnection> {
    const conn = new LibvirtConnection(new RpcClient(stream, opts), name, opts);
    try {
      await openSession(conn.remote, name, {
        readOnly: opts.readOnly ?? false,
        keepalive: conn.rpc.keepaliveEnabled,
        signal: opts.signal,
      });
    } catch (err) {
      conn.rpc.close();
      throw err;
    }
    return conn;
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
}

/** Opens a connection; same as `LibvirtConnection.connect`. */
export function connect(uri: string, opts?: ConnectOptions): Promise<LibvirtConnection> {
  return LibvirtConnection.connect(uri, opts);
}
