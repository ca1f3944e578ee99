import {
  isNoDomain,
  type LibvirtConnection,
  VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT,
  VIR_DOMAIN_SHUTOFF,
  VIR_DOMAIN_STATS_BLOCK,
} from '@cockpit/libvirt';
import { CopyStorage, type Disk } from '@cockpit/proto';
import { DriverError } from '../driver-error.ts';
import { DISK_IN_USE, type IncomingMigration, NAME_IN_USE, VM_RUNNING_HERE } from '../migration-driver.ts';
import { blockStatsOf } from './domain-disks.ts';
import { inSharedStorage } from './migration-plan.ts';

/**
 * The VM can arrive: no domain with its UUID is active here (an inactive definition of it is fine:
 * libvirt takes the incoming one in its place), and no other domain has its name.
 */
export async function checkArrival(conn: LibvirtConnection, incoming: IncomingMigration): Promise<void> {
  const same = await conn.domains.lookupByUuid(incoming.vmId).catch(absentIfNoDomain);
  if (same !== undefined && (await conn.domains.getState(same)).state !== VIR_DOMAIN_SHUTOFF) {
    throw new DriverError(
      VM_RUNNING_HERE,
      `domain '${same.name}' (${incoming.vmId}) is already running on this host`,
    );
  }
  if (incoming.vmName === '') return;
  const named = await conn.domains.lookupByName(incoming.vmName).catch(absentIfNoDomain);
  if (named !== undefined && named.uuid.toLowerCase() !== incoming.vmId) {
    throw new DriverError(
      NAME_IN_USE,
      `another domain on this host is named '${incoming.vmName}' (UUID ${named.uuid})`,
    );
  }
}

/**
 * The disks libvirt copies into on this host (copy_storage all or inc): each writable disk that is not
 * shareable nor in a folder declared shared, and no block device (libvirt cannot create those: the
 * device must exist here, and libvirt says so if it does not).
 */
export function disksToReceive(incoming: IncomingMigration, sharedStorage: readonly string[]): Disk[] {
  const copy = incoming.copyStorage;
  if (copy !== CopyStorage.COPY_STORAGE_ALL && copy !== CopyStorage.COPY_STORAGE_INC) return [];
  return incoming.disks.filter(
    (d) =>
      d.path !== '' &&
      !d.readOnly &&
      !d.shareable &&
      !inSharedStorage(d.path, sharedStorage) &&
      !d.path.startsWith('/dev/'),
  );
}

/** No other domain here uses one of these images (a copy would write into its disk). */
export async function checkDisksUnused(
  conn: LibvirtConnection,
  vmId: string,
  disks: readonly Disk[],
): Promise<void> {
  if (disks.length === 0) return;
  const wanted = new Set(disks.map((d) => d.path));
  // NOWAIT: each disk's path comes from the definition; without it another incoming migration here (its
  // domain's job lock taken until it ends) would hold this prepare 30 s.
  const all = await conn.domains.getAllStats(
    VIR_DOMAIN_STATS_BLOCK,
    VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT,
  );
  for (const { domain, stats } of all) {
    if (domain.uuid.toLowerCase() === vmId) continue;
    const used = blockStatsOf(stats).find((b) => wanted.has(b.path));
    if (used !== undefined) {
      throw new DriverError(
        DISK_IN_USE,
        `${used.path} is a disk of domain '${domain.name}' on this host: copying into it would overwrite it`,
      );
    }
  }
}

function absentIfNoDomain(err: unknown): undefined {
  if (isNoDomain(err)) return undefined;
  throw err;
}
