import { Vm, VmState } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import { type VmRecords, waitForPowerOff } from './power-off.ts';

/** The journal's two members, over a map the test changes. */
class Records implements VmRecords {
  readonly vms = new Map<string, Vm>();
  private readonly listeners = new Set<() => void>();
  vmRecord(id: string) {
    return this.vms.get(id);
  }
  onAppend(listener: () => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(id: string, state: VmState) {
    this.vms.set(id, Vm.fromPartial({ id, name: 'g', state }));
    for (const listener of this.listeners) listener();
  }
  remove(id: string) {
    this.vms.delete(id);
    for (const listener of this.listeners) listener();
  }
  get listening() {
    return this.listeners.size;
  }
}

const ID = '0b5f7a52-6c1e-4a56-9d0e-3f8a1c2b4d6e';

describe('waitForPowerOff', () => {
  it('resolves true when the record turns shut off, not at other changes, and stops listening', async () => {
    const records = new Records();
    records.set(ID, VmState.VM_STATE_RUNNING);
    let off: boolean | undefined;
    const waiting = waitForPowerOff(records, ID.toUpperCase(), { timeoutMs: 10_000 }).then((v) => {
      off = v;
      return v;
    });
    records.set(ID, VmState.VM_STATE_SHUTDOWN);
    records.set('another', VmState.VM_STATE_SHUT_OFF);
    await Promise.resolve();
    expect(off).toBeUndefined();
    records.set(ID, VmState.VM_STATE_SHUT_OFF);
    expect(await waiting).toBe(true);
    expect(records.listening).toBe(0);
  });

  it('resolves true when the VM is gone (a transient VM stopped), or already off', async () => {
    const records = new Records();
    records.set(ID, VmState.VM_STATE_RUNNING);
    const waiting = waitForPowerOff(records, ID, { timeoutMs: 10_000 });
    records.remove(ID);
    expect(await waiting).toBe(true);
    records.set(ID, VmState.VM_STATE_SHUT_OFF);
    expect(await waitForPowerOff(records, ID, { timeoutMs: 10_000 })).toBe(true);
  });

  it('resolves false at the timeout or when aborted, and stops listening', async () => {
    const records = new Records();
    records.set(ID, VmState.VM_STATE_RUNNING);
    expect(await waitForPowerOff(records, ID, { timeoutMs: 20 })).toBe(false);
    const abort = new AbortController();
    const waiting = waitForPowerOff(records, ID, { timeoutMs: 10_000, signal: abort.signal });
    abort.abort();
    expect(await waiting).toBe(false);
    expect(await waitForPowerOff(records, ID, { timeoutMs: 10_000, signal: abort.signal })).toBe(false);
    expect(records.listening).toBe(0);
  });
});
