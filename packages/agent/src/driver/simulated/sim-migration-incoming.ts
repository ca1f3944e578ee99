import { createServer, type Server, type Socket } from 'node:net';
import { type Vm, VmRemovalReason, VmState } from '@cockpit/proto';
import { DriverError } from '../driver-error.ts';
import {
  type DestinationMessage,
  LineChannel,
  type SimListenAddress,
  type SourceMessage,
  vmFromWire,
} from './sim-migration-wire.ts';

/** A simulated host's VMs, as its migration sees them: changes go through the host's state stream. */
export interface SimVms {
  get(vmId: string): Vm | undefined;
  all(): Iterable<Vm>;
  put(vm: Vm): void;
  drop(vmId: string, reason: VmRemovalReason): void;
}

export const isActive = (vm: Vm) =>
  vm.state !== VmState.VM_STATE_SHUT_OFF && vm.state !== VmState.VM_STATE_CRASHED;

type Channel = LineChannel<DestinationMessage, SourceMessage>;

/**
 * The destination side of simulated live migration: a TCP listener that takes migrations from other
 * simulated hosts, one connection per migration. The VM arrives as under libvirt: paused ("migration")
 * from the prepare on, running ("migrated") at the finish; a connection that ends before the finish
 * (abort, source gone) removes the incoming domain again, leaving an inactive definition that was there.
 */
export class SimIncomingMigrations {
  /** The migrations coming in, by VM id. */
  private readonly incoming = new Map<string, Channel>();
  private readonly connections = new Set<Channel>();
  private server: Server | undefined;

  constructor(
    private readonly hostUuid: string,
    private readonly vms: SimVms,
  ) {}

  /** Listens at `address`; resolves with the port it got (the one asked for, or a free one for 0). */
  async listen(address: SimListenAddress): Promise<number> {
    const server = createServer((socket) => void this.serve(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    return typeof bound === 'object' && bound !== null ? bound.port : address.port;
  }

  /** Stops listening and ends every connection: the migrations coming in fail on their sources. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const channel of this.connections) channel.close();
    await Promise.all([...this.connections].map((c) => c.closed));
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  }

  has(vmId: string): boolean {
    return this.incoming.has(vmId);
  }

  private async serve(socket: Socket): Promise<void> {
    const channel: Channel = new LineChannel(socket);
    this.connections.add(channel);
    let arrival: { vm: Vm; there: Vm | undefined } | undefined;
    try {
      for (;;) {
        const msg = await channel.receive();
        if (msg.type === 'prepare') {
          const vm = vmFromWire(msg.vm);
          const refusal = this.refusal(msg.hostUuid, vm);
          if (refusal !== undefined) {
            channel.send({ type: 'refused', code: refusal.code, message: refusal.message });
            break;
          }
          const there = this.vms.get(vm.id);
          arrival = { vm, there };
          this.incoming.set(vm.id, channel);
          // libvirt starts the incoming domain, paused, as the migration begins.
          this.vms.put({
            ...vm,
            state: VmState.VM_STATE_PAUSED,
            stateReason: 'migration',
            persistent: there !== undefined,
            autostart: there?.autostart ?? false,
          });
          channel.send({ type: 'prepared' });
        } else if (msg.type === 'post_copy' && arrival !== undefined) {
          this.vms.put({
            ...this.current(arrival.vm),
            state: VmState.VM_STATE_RUNNING,
            stateReason: 'postcopy',
          });
        } else if (msg.type === 'finish' && arrival !== undefined) {
          this.incoming.delete(arrival.vm.id);
          this.vms.put({
            ...this.current(arrival.vm),
            state: VmState.VM_STATE_RUNNING,
            stateReason: 'migrated',
            persistent: msg.persistent || arrival.there !== undefined,
          });
          arrival = undefined;
          channel.send({ type: 'finished' });
          break;
        } else {
          // abort, or a message out of order: the migration ends here.
          this.rollBack(channel, arrival);
          arrival = undefined;
          channel.send({ type: 'aborted' });
          break;
        }
      }
    } catch {
      // The source went away (ConnectionLost): the incoming domain goes.
    } finally {
      this.rollBack(channel, arrival);
      this.connections.delete(channel);
      channel.end();
    }
  }

  /** Why this host cannot take `vm` from the source that means host `hostUuid`, or undefined. */
  private refusal(hostUuid: string, vm: Vm): DriverError | undefined {
    if (hostUuid !== '' && hostUuid !== this.hostUuid) {
      // The port now belongs to another simulated host than the one the URI names.
      return new DriverError(
        'OPERATION_FAILED',
        `operation failed: the host at this address is ${this.hostUuid}, not ${hostUuid}`,
      );
    }
    const there = this.vms.get(vm.id);
    if (this.incoming.has(vm.id) || (there !== undefined && isActive(there))) {
      return new DriverError('OPERATION_FAILED', `operation failed: domain '${vm.name}' is already active`);
    }
    return undefined;
  }

  /** The incoming domain goes; an inactive definition that was there before stays. */
  private rollBack(channel: Channel, arrival: { vm: Vm; there: Vm | undefined } | undefined): void {
    if (arrival === undefined || this.incoming.get(arrival.vm.id) !== channel) return;
    this.incoming.delete(arrival.vm.id);
    if (arrival.there !== undefined) this.vms.put(arrival.there);
    else this.vms.drop(arrival.vm.id, VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED);
  }

  private current(vm: Vm): Vm {
    return this.vms.get(vm.id) ?? vm;
  }
}
