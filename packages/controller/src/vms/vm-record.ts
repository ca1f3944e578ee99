import { type Disk, type Vm, VmState } from '@cockpit/proto';
import { isUuid } from '../ids.ts';
import type { VmState as VmStateName } from './vm-schema.ts';

/** A VM as an agent reports it, in the vms table's terms. */
export interface VmRecord {
  id: string;
  name: string;
  state: VmStateName;
  stateReason: string;
  vcpus: number;
  memoryMib: number;
  maxMemoryMib: number | null;
  persistent: boolean;
  autostart: boolean;
  /** File and block disks, as the host reports them (what a storage-copying migration readies). */
  disks: Disk[];
}

// Every wire state has its name; an unknown one (a newer agent) is `nostate` rather than a refusal.
const STATE_NAMES: Readonly<Record<number, VmStateName>> = {
  [VmState.VM_STATE_NOSTATE]: 'nostate',
  [VmState.VM_STATE_RUNNING]: 'running',
  [VmState.VM_STATE_BLOCKED]: 'blocked',
  [VmState.VM_STATE_PAUSED]: 'paused',
  [VmState.VM_STATE_SHUTDOWN]: 'shutdown',
  [VmState.VM_STATE_SHUT_OFF]: 'shut_off',
  [VmState.VM_STATE_CRASHED]: 'crashed',
  [VmState.VM_STATE_PMSUSPENDED]: 'pmsuspended',
};

export const vmStateName = (state: VmState): VmStateName => STATE_NAMES[state] ?? 'nostate';

/** Why a reported VM cannot be stored, or undefined when it can. */
export function vmRecordProblem(vm: Pick<Vm, 'id' | 'name'>): string | undefined {
  if (!isUuid(vm.id)) return `VM id ${JSON.stringify(vm.id.slice(0, 64))} is not a UUID`;
  if (vm.name.length < 1 || vm.name.length > 255 || vm.name.includes('\u0000')) {
    return `VM ${vm.id} has no usable name (1 to 255 characters, no NUL)`;
  }
  return undefined;
}

const INT32_MAX = 2_147_483_647;

export function vmRecordOf(vm: Vm): VmRecord {
  return {
    id: vm.id.toLowerCase(),
    name: vm.name,
    state: vmStateName(vm.state),
    stateReason: vm.stateReason.replaceAll('\u0000', ''),
    vcpus: Math.min(vm.vcpus, INT32_MAX),
    memoryMib: Math.min(vm.memoryMib, INT32_MAX),
    maxMemoryMib: vm.maxMemoryMib === 0 ? null : Math.min(vm.maxMemoryMib, INT32_MAX),
    persistent: vm.persistent,
    autostart: vm.autostart,
    disks: vm.disks.map((d) => ({ ...d, path: d.path.replaceAll('\u0000', '') })),
  };
}
