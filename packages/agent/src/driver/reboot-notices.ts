import { untilNotified } from '../until-notified.ts';

/**
 * How a wait for a reboot ended: the guest rebooted; the driver lost events meanwhile (its connection
 * to the hypervisor dropped, or the hypervisor dropped events), so a reboot may have passed unheard;
 * or neither happened before the time ran out (or the wait was aborted).
 */
export type RebootOutcome = 'rebooted' | 'missed' | 'none';

/**
 * The reboots a driver hears of (libvirt's reboot event: the guest reset itself), for whoever waits for
 * one. A reboot changes no VM record, so the journal cannot tell, nor can a re-list after events were
 * lost: then every wait learns that it may have missed one.
 */
export class RebootNotices {
  private readonly listeners = new Map<string, Set<(outcome: RebootOutcome) => void>>();

  /**
   * Resolves at the VM's next reboot, or once events were lost, or (`none`) when `timeoutMs` passes first
   * or `signal` aborts. Called before the reboot is asked for, so that a quick one is not missed.
   */
  next(vmId: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<RebootOutcome> {
    const uuid = vmId.toLowerCase();
    let outcome: RebootOutcome = 'none';
    return untilNotified(
      (wake) => {
        const listener = (heard: RebootOutcome) => {
          outcome = heard;
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
      () => outcome !== 'none',
      options,
    ).then(() => outcome);
  }

  /** The VM rebooted. */
  rebooted(vmId: string): void {
    for (const listener of [...(this.listeners.get(vmId.toLowerCase()) ?? [])]) listener('rebooted');
  }

  /** Events were lost: any VM waited for may have rebooted unheard. */
  missed(): void {
    for (const set of [...this.listeners.values()]) for (const listener of [...set]) listener('missed');
  }
}
