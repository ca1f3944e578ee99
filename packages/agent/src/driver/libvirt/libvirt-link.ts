import type { HostInfo, Vm } from '@cockpit/proto';
import type { CounterReading } from '../../metrics/counters.ts';
import type { PowerOperation } from '../driver.ts';

/** Something happened to a domain: its record must be read again. */
export interface DomainNotice {
  uuid: string;
  /** The domain stopped because it migrated away (its removal, if it follows, is a migration). */
  migratedAway: boolean;
  /** The guest rebooted (it reset itself, or libvirt reset it for a reboot asked for): no record changed. */
  rebooted?: boolean;
}

/** The notices of one connection; ends (throws) when the connection closes. */
export interface NoticeStream extends AsyncIterable<DomainNotice> {
  /** Notices the library dropped because we fell behind: a re-list must make up for them. */
  readonly dropped: number;
}

/**
 * One connection to libvirtd in the driver's terms: the only contract between the driver's logic
 * (reconnecting, coalescing, re-listing) and the @cockpit/libvirt calls behind it.
 */
export interface LibvirtLink {
  /** Resolves with the reason once the connection is gone. */
  readonly closed: Promise<Error>;
  /** Subscribes to every event that can change a VM record; resolves once libvirtd delivers them. */
  watch(signal: AbortSignal): Promise<NoticeStream>;
  /** Every domain's record, in one pass. */
  listVms(): Promise<Vm[]>;
  /** One domain's record, or undefined when libvirt no longer has it. */
  readVm(uuid: string): Promise<Vm | undefined>;
  hostInfo(): Promise<HostInfo>;
  power(uuid: string, op: PowerOperation, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
  /** Performance counters of the host and every active domain, in one bulk statistics call. */
  readCounters(signal?: AbortSignal): Promise<CounterReading>;
}
