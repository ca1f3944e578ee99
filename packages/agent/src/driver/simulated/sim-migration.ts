import { connect } from 'node:net';
import { type Vm, VmRemovalReason, VmState } from '@cockpit/proto';
import { DriverError, VM_NOT_FOUND } from '../driver-error.ts';
import {
  type IncomingMigration,
  type MigrationDriver,
  type MigrationJob,
  NAME_IN_USE,
  type OutgoingMigration,
  VM_RUNNING_HERE,
} from '../migration-driver.ts';
import type { SharedTicker } from './shared-ticker.ts';
import { isActive, SimIncomingMigrations, type SimVms } from './sim-migration-incoming.ts';
import { SimMigrationJob } from './sim-migration-job.ts';
import {
  ConnectionLost,
  type DestinationMessage,
  LineChannel,
  parseSimMigrationUri,
  type SimMigrationTarget,
  type SourceMessage,
  simMigrationUri,
  vmToWire,
} from './sim-migration-wire.ts';

export type { SimVms } from './sim-migration-incoming.ts';

export interface SimulatedMigrationOptions {
  /** Where this host takes migrations: sim+tcp://<address>:<port> (port 0: any free one); empty: nowhere. */
  listen: string;
  hostUuid: string;
  vms: SimVms;
  ticker: SharedTicker;
  /** Link speed without a bandwidth limit. */
  bytesPerSecond: number;
  /** How long the source waits for each answer of the destination (default 30 s, libvirt's keepalive). */
  replyTimeoutMs?: number;
}

type Channel = LineChannel<SourceMessage, DestinationMessage>;

/** libvirt gives up on a peer that stops answering after 5 keepalives 5 s apart, about 30 s. */
const REPLY_TIMEOUT_MS = 30_000;

/**
 * Live migration between simulated hosts, in one process or several: each host listens on a loopback
 * TCP port and advertises `sim+tcp://<address>:<port>/<host-uuid>` as its migration URI; the source
 * connects there, as libvirt's peer-to-peer migration connects to the destination's libvirtd (wire:
 * sim-migration-wire.ts). The source runs the job (sim-migration-job.ts) and tells the destination
 * when to take the VM; the VM leaves and arrives as under libvirt (sim-migration-incoming.ts). Refusals
 * use libvirt's codes and words.
 */
export class SimulatedMigration implements MigrationDriver {
  private readonly outgoing = new Map<string, { job: SimMigrationJob; channel: Channel }>();
  /** VMs whose migration is connecting to its destination. */
  private readonly starting = new Set<string>();
  private readonly incoming: SimIncomingMigrations;
  private uri = '';
  private readonly replyTimeoutMs: number;

  constructor(private readonly o: SimulatedMigrationOptions) {
    this.incoming = new SimIncomingMigrations(o.hostUuid, o.vms);
    this.replyTimeoutMs = o.replyTimeoutMs ?? REPLY_TIMEOUT_MS;
  }

  /** The host is up: it listens for migrations (when it has an address to) and knows its URI. */
  async listen(): Promise<void> {
    if (this.o.listen === '') return;
    const address = parseSimMigrationUri(this.o.listen);
    if (typeof address === 'string') throw new Error(`migration URI '${this.o.listen}': ${address}`);
    const port = await this.incoming.listen(address);
    this.uri = simMigrationUri({ host: address.host, port, hostUuid: this.o.hostUuid });
  }

  /** `sim+tcp://<address>:<port>/<host-uuid>` once listening; empty when the host takes no migrations. */
  advertisedUri(): string {
    return this.uri;
  }

  /** The host goes away: its migrations end (those coming in fail on their sources). */
  async close(): Promise<void> {
    for (const { job, channel } of this.outgoing.values()) {
      job.dispose();
      channel.close();
    }
    this.outgoing.clear();
    await this.incoming.close();
  }

  /** True while the VM migrates from or to this host (nothing else may change it meanwhile). */
  busy(vmId: string): boolean {
    return this.outgoing.has(vmId) || this.starting.has(vmId) || this.incoming.has(vmId);
  }

  async prepareIncoming(incoming: IncomingMigration): Promise<{ createdImages: string[] }> {
    const same = this.o.vms.get(incoming.vmId);
    if (same !== undefined && isActive(same)) {
      throw new DriverError(
        VM_RUNNING_HERE,
        `domain '${same.name}' (${same.id}) is already running on this host`,
      );
    }
    const named = [...this.o.vms.all()].find((vm) => vm.name === incoming.vmName && vm.id !== incoming.vmId);
    if (named !== undefined) {
      throw new DriverError(
        NAME_IN_USE,
        `another domain on this host is named '${named.name}' (UUID ${named.id})`,
      );
    }
    // Simulated disks are not files: nothing to create, nothing to remove later.
    return { createdImages: [] };
  }

  async abandonIncoming(): Promise<string[]> {
    return [];
  }

  // Simulated VMs have no disk images to copy.
  async releaseOutgoing(): Promise<string[]> {
    return [];
  }

  async migrate(outgoing: OutgoingMigration): Promise<MigrationJob> {
    const { vmId, options } = outgoing;
    const vm = this.o.vms.get(vmId);
    if (vm === undefined) {
      throw new DriverError(VM_NOT_FOUND, `Domain not found: no domain with matching uuid '${vmId}'`);
    }
    if (!isActive(vm))
      throw new DriverError('OPERATION_INVALID', 'Requested operation is not valid: domain is not running');
    const target = parseSimMigrationUri(outgoing.connectUri);
    if (typeof target === 'string') {
      throw new DriverError('NO_CONNECT', `no connection driver available for ${outgoing.connectUri}`);
    }
    if (target.hostUuid === this.o.hostUuid) {
      throw new DriverError(
        'INTERNAL_ERROR',
        `internal error: Attempt to migrate guest to the same host ${this.o.hostUuid}`,
      );
    }
    this.starting.add(vmId);
    let channel: Channel;
    try {
      channel = await this.prepared(target, vm);
    } finally {
      this.starting.delete(vmId);
    }
    const job = this.job(vm, outgoing, channel);
    this.outgoing.set(vmId, { job, channel });
    void channel.closed.then(() => job.lostDestination());
    if (!options.live) this.o.vms.put({ ...vm, state: VmState.VM_STATE_PAUSED, stateReason: 'migration' });
    return job;
  }

  async runningJob(vmId: string): Promise<MigrationJob | undefined> {
    return this.outgoing.get(vmId)?.job;
  }

  /** Connects to the destination and has it start the incoming domain; rejects in libvirt's words. */
  private async prepared(target: SimMigrationTarget, vm: Vm): Promise<Channel> {
    const server = `${target.host}:${target.port}`;
    const socket = connect({ host: target.host, port: target.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'ECONNREFUSED' ? 'Connection refused' : err.message;
        reject(new DriverError('SYSTEM_ERROR', `unable to connect to server at '${server}': ${why}`));
      });
    });
    const channel: Channel = new LineChannel(socket);
    channel.send({ type: 'prepare', hostUuid: target.hostUuid, vm: vmToWire(vm) });
    let reply: DestinationMessage;
    try {
      reply = await channel.receive(this.replyTimeoutMs);
    } catch (err) {
      if (!(err instanceof ConnectionLost)) throw err;
      throw channel.timedOut
        ? new DriverError('INTERNAL_ERROR', 'internal error: connection closed due to keepalive timeout')
        : new DriverError('SYSTEM_ERROR', 'Cannot recv data: Connection reset by peer');
    }
    if (reply.type === 'prepared') return channel;
    channel.close();
    throw reply.type === 'refused'
      ? new DriverError(reply.code, reply.message)
      : new DriverError('INTERNAL_ERROR', `internal error: unexpected '${reply.type}' from ${server}`);
  }

  private job(vm: Vm, outgoing: OutgoingMigration, channel: Channel): SimMigrationJob {
    const { vmId, options } = outgoing;
    return new SimMigrationJob({
      memoryMib: vm.maxMemoryMib,
      options,
      bytesPerSecond: this.o.bytesPerSecond,
      ticker: this.o.ticker,
      onPostCopy: () => {
        this.o.vms.put({ ...this.record(vm), state: VmState.VM_STATE_PAUSED, stateReason: 'postcopy' });
        channel.send({ type: 'post_copy' });
      },
      finish: async () => {
        channel.send({ type: 'finish', persistent: options.persistent });
        const reply = await channel.receive(this.replyTimeoutMs);
        if (reply.type !== 'finished') throw new ConnectionLost(`the destination answered '${reply.type}'`);
      },
      cancel: async () => {
        channel.send({ type: 'abort' });
        await channel.receive(this.replyTimeoutMs).catch(() => undefined);
      },
      onEnd: (error) => {
        this.outgoing.delete(vmId);
        channel.close();
        if (error !== undefined) {
          this.o.vms.put({ ...this.record(vm), state: vm.state, stateReason: vm.stateReason });
          return;
        }
        const source = this.record(vm);
        if (options.undefineSource || !source.persistent) {
          this.o.vms.drop(vmId, VmRemovalReason.VM_REMOVAL_REASON_MIGRATED);
        } else {
          this.o.vms.put({ ...source, state: VmState.VM_STATE_SHUT_OFF, stateReason: 'migrated' });
        }
      },
    });
  }

  /** The VM's current record here, or `fallback` when it is gone. */
  private record(fallback: Vm): Vm {
    return this.o.vms.get(fallback.id) ?? fallback;
  }
}
