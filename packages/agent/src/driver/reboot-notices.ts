import { untilNotified } from '../until-notified.ts';

/**
 * The reboots a driver hears of (libvirt's reboot event: the guest reset itself), for whoever waits for
 * one. A reboot changes no VM record, so the journal cannot tell.
 */
export class RebootNotices {
  private readonly listeners = new Map<string, Set<() => void>>();

  /**
   * Resolves true at the VM's next reboot, false when `timeoutMs` passes first or `signal` aborts. Called
   * before the reboot is asked for, so that a quick one is not missed.
   */
  next(vmId: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    const uuid = vmId.toLowerCase();
    let rebooted = false;
    return untilNotified(
      (wake) => {
        const listener = () => {
          rebooted = true;
          wake();
        };
        const set = this.listeners.get(uuid) ?? new Set();
        set.add(listener);
        this.listeners.set(uuid, set);
        return () => {
          set.delete(listener);
          if (set.size === 0 && this.listeners.get(uuid) === set) this.listeners.delete(uuid);
        };
      },
      () => rebooted,
      options,
    );
  }

  /** The VM rebooted. */
  rebooted(vmId: string): void {
    for (const listener of [...(this.listeners.get(vmId.toLowerCase()) ?? [])]) listener();
  }
}
