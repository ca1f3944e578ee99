import type { Domain, TypedParamRecord } from '@cockpit/libvirt';
import type { Vm } from '@cockpit/proto';
import { stateReasonOf, vmStateOf } from './vm-state.ts';

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0);

/**
 * A Vm record from libvirt's bulk statistics (state, balloon, vcpu groups: present for running and
 * shut-off domains alike) plus what statistics do not carry.
 */
export function vmFromStats(
  domain: Domain,
  stats: TypedParamRecord,
  persistent: boolean,
  autostart: boolean,
): Vm {
  const state = num(stats['state.state']);
  return {
    id: domain.uuid.toLowerCase(),
    name: domain.name,
    state: vmStateOf(state),
    stateReason: stateReasonOf(state, num(stats['state.reason'])),
    vcpus: num(stats['vcpu.current']),
    memoryMib: Math.floor(num(stats['balloon.current']) / 1024),
    maxMemoryMib: Math.floor(num(stats['balloon.maximum']) / 1024),
    persistent,
    autostart,
    disks: [],
  };
}
