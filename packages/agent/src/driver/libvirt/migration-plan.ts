import {
  type MigrateParams,
  VIR_MIGRATE_AUTO_CONVERGE,
  VIR_MIGRATE_COMPRESSED,
  VIR_MIGRATE_LIVE,
  VIR_MIGRATE_NON_SHARED_DISK,
  VIR_MIGRATE_NON_SHARED_INC,
  VIR_MIGRATE_PEER2PEER,
  VIR_MIGRATE_PERSIST_DEST,
  VIR_MIGRATE_POSTCOPY,
  VIR_MIGRATE_UNDEFINE_SOURCE,
  VIR_MIGRATE_UNSAFE,
} from '@cockpit/libvirt';
import { CopyStorage, type MigrationOptions } from '@cockpit/proto';
import type { DiskSpec } from './domain-disks.ts';

/** How one migration is asked of libvirt. */
export interface MigrationPlan {
  /** VIR_MIGRATE_* flags. */
  flags: number;
  params: MigrateParams;
  /** Targets of the disks libvirt copies (storage migration); empty without one. */
  copied: string[];
  /** VIR_MIGRATE_UNSAFE is set: every disk left in place lies in a folder declared shared. */
  unsafe: boolean;
}

/** True when `path` lies in one of `folders` (absolute folders, as libvirtd sees them). */
export const inSharedStorage = (path: string, folders: readonly string[]): boolean =>
  folders.some((folder) => path.startsWith(folder.endsWith('/') ? folder : `${folder}/`));

/** A disk the guest writes to, with an image on the host (not a read-only or empty drive). */
const writable = (disk: DiskSpec): boolean => !disk.readOnly && disk.path !== '';

/**
 * MigrationOptions and the domain's disks as libvirt flags and typed parameters. Peer to peer always
 * (the source's libvirtd drives the migration to the destination's).
 *
 * Storage: with copy_storage all (NON_SHARED_DISK) or inc (NON_SHARED_INC) libvirt copies the disks
 * listed in migrate_disks: each writable disk that is neither marked shareable nor in a folder declared
 * shared (--shared-storage). When nothing is left to copy, no storage flag is set.
 *
 * UNSAFE: libvirt refuses to leave a writable file disk in place unless it sees the file on a shared
 * filesystem (NFS, GlusterFS, Ceph, …). Storage it cannot recognise as shared is declared with
 * --shared-storage; VIR_MIGRATE_UNSAFE is set only when every writable disk left in place lies in such
 * a folder. Otherwise libvirt's own check stands, and its refusal (MIGRATE_UNSAFE) is the answer.
 */
export function planMigration(
  options: MigrationOptions,
  migrateUri: string,
  disks: readonly DiskSpec[],
  sharedStorage: readonly string[],
): MigrationPlan {
  let flags = VIR_MIGRATE_PEER2PEER;
  if (options.live) flags |= VIR_MIGRATE_LIVE;
  if (options.persistent) flags |= VIR_MIGRATE_PERSIST_DEST;
  if (options.undefineSource) flags |= VIR_MIGRATE_UNDEFINE_SOURCE;
  if (options.autoConverge) flags |= VIR_MIGRATE_AUTO_CONVERGE;
  if (options.compression) flags |= VIR_MIGRATE_COMPRESSED;
  if (options.allowPostCopy) flags |= VIR_MIGRATE_POSTCOPY;

  const params: MigrateParams = {};
  if (migrateUri !== '') params.uri = migrateUri;
  if (options.bandwidthMibps > 0) params.bandwidthMiBs = options.bandwidthMibps;

  const copyFlag =
    options.copyStorage === CopyStorage.COPY_STORAGE_ALL
      ? VIR_MIGRATE_NON_SHARED_DISK
      : options.copyStorage === CopyStorage.COPY_STORAGE_INC
        ? VIR_MIGRATE_NON_SHARED_INC
        : 0;
  const copied =
    copyFlag === 0
      ? []
      : disks
          .filter((d) => writable(d) && !d.shareable && !inSharedStorage(d.path, sharedStorage))
          .map((d) => d.target);
  if (copied.length > 0) {
    flags |= copyFlag;
    params.migrateDisks = copied;
  }

  const leftInPlace = disks.filter((d) => writable(d) && !copied.includes(d.target));
  const unsafe = leftInPlace.length > 0 && leftInPlace.every((d) => inSharedStorage(d.path, sharedStorage));
  if (unsafe) flags |= VIR_MIGRATE_UNSAFE;
  return { flags, params, copied, unsafe };
}
