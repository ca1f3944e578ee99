import {
  VIR_DOMAIN_CRASHED,
  VIR_DOMAIN_CRASHED_PANICKED,
  VIR_DOMAIN_PAUSED,
  VIR_DOMAIN_PAUSED_POSTCOPY_FAILED,
  VIR_DOMAIN_PAUSED_USER,
  VIR_DOMAIN_PMSUSPENDED,
  VIR_DOMAIN_RUNNING,
  VIR_DOMAIN_RUNNING_BOOTED,
  VIR_DOMAIN_RUNNING_POSTCOPY_FAILED,
  VIR_DOMAIN_SHUTOFF,
  VIR_DOMAIN_SHUTOFF_DAEMON,
  VIR_DOMAIN_SHUTOFF_DESTROYED,
} from '@cockpit/libvirt';
import { VmState } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import { stateReasonOf, vmStateOf } from './vm-state.ts';

describe('libvirt states and reasons', () => {
  it('maps every virDomainState to the wire enum', () => {
    expect(vmStateOf(VIR_DOMAIN_RUNNING)).toBe(VmState.VM_STATE_RUNNING);
    expect(vmStateOf(VIR_DOMAIN_SHUTOFF)).toBe(VmState.VM_STATE_SHUT_OFF);
    expect(vmStateOf(VIR_DOMAIN_PMSUSPENDED)).toBe(VmState.VM_STATE_PMSUSPENDED);
    expect(vmStateOf(99)).toBe(VmState.VM_STATE_NOSTATE);
  });

  it("names reasons as libvirt's enums do, the last of each table included", () => {
    expect(stateReasonOf(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED)).toBe('booted');
    expect(stateReasonOf(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_POSTCOPY_FAILED)).toBe('postcopy_failed');
    expect(stateReasonOf(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER)).toBe('user');
    expect(stateReasonOf(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_POSTCOPY_FAILED)).toBe('postcopy_failed');
    expect(stateReasonOf(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DESTROYED)).toBe('destroyed');
    expect(stateReasonOf(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DAEMON)).toBe('daemon');
    expect(stateReasonOf(VIR_DOMAIN_CRASHED, VIR_DOMAIN_CRASHED_PANICKED)).toBe('panicked');
    expect(stateReasonOf(VIR_DOMAIN_RUNNING, 0)).toBe('unknown');
    expect(stateReasonOf(VIR_DOMAIN_RUNNING, 42)).toBe('reason_42');
  });
});
