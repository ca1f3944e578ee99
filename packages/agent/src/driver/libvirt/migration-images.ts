import { randomBytes } from 'node:crypto';
import { basename, dirname, isAbsolute, posix } from 'node:path';
import {
  hasLibvirtCode,
  isNoDomain,
  type LibvirtConnection,
  VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT,
  VIR_DOMAIN_STATS_BLOCK,
  VIR_ERR_NO_STORAGE_POOL,
  VIR_ERR_NO_STORAGE_VOL,
} from '@cockpit/libvirt';
import { CopyStorage, type Disk } from '@cockpit/proto';
import type { Logger } from 'pino';
import { DriverError } from '../driver-error.ts';
import { DISK_EXISTS, INVALID_REQUEST, STORAGE_MISSING } from '../migration-driver.ts';
import { blockStatsOf } from './domain-disks.ts';

// libvirt-storage.h (not among the headers @cockpit/libvirt generates constants from).
const VIR_STORAGE_POOL_CREATE_WITH_BUILD = 1;
const VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA = 1;

type Pool = { name: string; uuid: Uint8Array };

/**
 * The one folder a prepare creates images in without a storage pool of this host on it: libvirt's own
 * default. The paths come from the controller (as the source's agent reported them), so they are never
 * trusted to name a place: a crafted one could otherwise make libvirtd (root) create folders and files
 * anywhere on this host. Storage elsewhere is a libvirt pool the operator defined.
 */
export const DEFAULT_IMAGE_FOLDER = '/var/lib/libvirt/images';

/** Why a disk path cannot be an image created here: not absolute, or not in its one spelling. */
export function imagePathProblem(path: string): string | undefined {
  if (!isAbsolute(path) || posix.normalize(path) !== path || path.endsWith('/')) {
    return `${path} is not an absolute path in its normal form (no '.', '..', '//' or trailing '/')`;
  }
  return undefined;
}

const inDefaultFolder = (folder: string) =>
  folder === DEFAULT_IMAGE_FOLDER || folder.startsWith(`${DEFAULT_IMAGE_FOLDER}/`);

/**
 * Readies the images a storage copy writes into, through libvirt's storage API (the agent may not share
 * libvirtd's filesystem). With copy_storage all, each missing image is created empty with the disk's
 * format and capacity, as libvirt itself would; an image already there is left for the copy to
 * overwrite, if its capacity matches. With inc, libvirt copies only the top image onto one that must
 * already be here with its backing chain: a missing one is refused (STORAGE_MISSING), since an empty
 * image without that chain would lose the data of the lower layers.
 *
 * Why not let libvirt pre-create them: it does so only inside an active storage pool whose target is the
 * image's folder, and only at the moment the source starts the migration. A pool left behind for that
 * blocks anyone from defining a pool on that folder later ("Storage source conflict with pool"), so the
 * images are created now, in the folder's active pool or in a transient pool that lives for this call.
 */
export async function readyImages(
  conn: LibvirtConnection,
  copyStorage: CopyStorage,
  disks: readonly Disk[],
  log: Logger,
): Promise<string[]> {
  for (const disk of disks) {
    const problem = imagePathProblem(disk.path);
    if (problem !== undefined) throw new DriverError(INVALID_REQUEST, `disk ${disk.target}: ${problem}`);
  }
  const byFolder = new Map<string, Disk[]>();
  for (const disk of disks)
    byFolder.set(dirname(disk.path), [...(byFolder.get(dirname(disk.path)) ?? []), disk]);
  const created: string[] = [];
  try {
    for (const [folder, inFolder] of byFolder) {
      await withPool(conn, folder, log, async (pool) => {
        for (const disk of inFolder) {
          if (await readyImage(conn, pool, disk, copyStorage, log)) created.push(disk.path);
        }
      });
    }
  } catch (err) {
    // A refused prepare (a later disk's image exists with another capacity, …) leaves nothing behind.
    await deleteImages(conn, created, log);
    throw err;
  }
  return created;
}

/**
 * Removes a migration's images that nothing here needs any more, so that whole disks' worth of space is not
 * left taken: on a destination, those a prepare created (`paths`, from the agent's own record of that
 * prepare) for a migration that ended without the VM arriving; on a source, those libvirt copied away
 * (from the VM's own definition here) once the migration completed. Nothing is removed when the VM is
 * defined here (it arrived after all, whatever the coordinator concluded; or the source kept its
 * definition), and no image a domain of this host uses. Resolves with the paths removed; one that cannot
 * be removed is logged and left.
 */
export async function removeImages(
  conn: LibvirtConnection,
  vmId: string,
  paths: readonly string[],
  log: Logger,
): Promise<string[]> {
  if (paths.length === 0) return [];
  const here = await conn.domains.lookupByUuid(vmId).then(
    () => true,
    (err: unknown) => {
      if (isNoDomain(err)) return false;
      throw err;
    },
  );
  if (here) {
    log.info({ vmId, images: paths }, 'the VM is defined on this host: keeping its images');
    return [];
  }
  // Every domain's disks, inactive ones too (a definition may name an image that is not open now).
  const used = new Set<string>();
  for (const { stats } of await conn.domains.getAllStats(
    VIR_DOMAIN_STATS_BLOCK,
    VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT,
  )) {
    for (const b of blockStatsOf(stats)) if (b.path !== '') used.add(b.path);
  }
  const unused = paths.filter((path) => {
    if (!used.has(path)) return true;
    log.warn({ path }, 'a domain on this host uses the image: keeping it');
    return false;
  });
  const removed = await deleteImages(conn, unused, log);
  if (removed.length > 0) log.info({ images: removed }, 'removed the images of a migration');
  return removed;
}

/** Deletes the images at `paths` through their folders' pools; resolves with those deleted. */
async function deleteImages(
  conn: LibvirtConnection,
  paths: readonly string[],
  log: Logger,
): Promise<string[]> {
  const removed: string[] = [];
  const byFolder = new Map<string, string[]>();
  for (const path of paths) {
    if (imagePathProblem(path) !== undefined) continue;
    byFolder.set(dirname(path), [...(byFolder.get(dirname(path)) ?? []), path]);
  }
  for (const [folder, inFolder] of byFolder) {
    try {
      await withPool(conn, folder, log, async (pool) => {
        for (const path of inFolder) {
          const vol = await conn.remote.storageVolLookupByName({ pool, name: basename(path) }).then(
            (r) => r.vol,
            (err: unknown) => {
              if (hasLibvirtCode(err, VIR_ERR_NO_STORAGE_VOL)) return undefined;
              throw err;
            },
          );
          if (vol === undefined) continue;
          await conn.remote.storageVolDelete({ vol, flags: 0 });
          removed.push(path);
        }
      });
    } catch (err) {
      log.warn({ err: (err as Error).message, folder }, 'could not remove the images of a migration');
    }
  }
  return removed;
}

/** Readies one image; true when it created it (false: it was there already). */
async function readyImage(
  conn: LibvirtConnection,
  pool: Pool,
  disk: Disk,
  copyStorage: CopyStorage,
  log: Logger,
): Promise<boolean> {
  const name = basename(disk.path);
  const vol = await conn.remote.storageVolLookupByName({ pool, name }).then(
    (r) => r.vol,
    (err: unknown) => {
      if (hasLibvirtCode(err, VIR_ERR_NO_STORAGE_VOL)) return undefined;
      throw err;
    },
  );
  if (vol !== undefined) {
    const { capacity } = await conn.remote.storageVolGetInfo({ vol });
    if (disk.capacityBytes > 0 && Number(capacity) !== disk.capacityBytes) {
      throw new DriverError(
        DISK_EXISTS,
        `${disk.path} already exists on this host with a capacity of ${capacity} bytes; disk ${disk.target} has ${disk.capacityBytes}`,
      );
    }
    log.info({ path: disk.path }, 'migration: the image is already here; the storage copy writes into it');
    return false;
  }
  if (copyStorage === CopyStorage.COPY_STORAGE_INC) {
    throw new DriverError(
      STORAGE_MISSING,
      `${disk.path} (disk ${disk.target}) is not on this host: an incremental storage copy needs the image here with its backing chain; create it or copy the whole disk (copy_storage all)`,
    );
  }
  if (disk.capacityBytes <= 0) {
    throw new DriverError(INVALID_REQUEST, `disk ${disk.target} (${disk.path}) has no known capacity`);
  }
  const qcow2 = disk.format === 'qcow2';
  await conn.remote.storageVolCreateXml({
    pool,
    xml: volumeXml(name, disk.format || 'raw', disk.capacityBytes),
    // What libvirt's own pre-creation does for qcow2: metadata preallocated, qcow2 v3.
    flags: qcow2 ? VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA : 0,
  });
  log.info(
    { path: disk.path, format: disk.format, capacity: disk.capacityBytes },
    'migration: image created',
  );
  return true;
}

/**
 * Runs `work` in the active pool on `folder`, or, in the default image folder, in a transient one (the
 * folder built if missing).
 */
async function withPool<T>(
  conn: LibvirtConnection,
  folder: string,
  log: Logger,
  work: (pool: Pool) => Promise<T>,
): Promise<T> {
  const existing = await conn.remote.storagePoolLookupByTargetPath({ path: folder }).then(
    (r) => r.pool,
    (err: unknown) => {
      if (hasLibvirtCode(err, VIR_ERR_NO_STORAGE_POOL)) return undefined;
      throw err;
    },
  );
  if (existing !== undefined) {
    await conn.remote.storagePoolRefresh({ pool: existing, flags: 0 });
    return work(existing);
  }
  if (!inDefaultFolder(folder)) {
    throw new DriverError(
      INVALID_REQUEST,
      `${folder} is neither a storage pool of this host nor in ${DEFAULT_IMAGE_FOLDER}: images are created and removed only in storage (define and start a libvirt pool on that folder)`,
    );
  }
  const name = `cockpit-migration-${randomBytes(4).toString('hex')}`;
  const { pool } = await conn.remote.storagePoolCreateXml({
    xml: `<pool type='dir'><name>${name}</name><target><path>${escapeXml(folder)}</path></target></pool>`,
    flags: VIR_STORAGE_POOL_CREATE_WITH_BUILD,
  });
  try {
    return await work(pool);
  } finally {
    // Destroying a transient directory pool forgets it and leaves its files.
    await conn.remote.storagePoolDestroy({ pool }).catch((err: unknown) => {
      log.warn({ err: (err as Error).message, pool: name }, 'could not remove a transient storage pool');
    });
  }
}

const volumeXml = (name: string, format: string, capacity: number) =>
  `<volume><name>${escapeXml(name)}</name><capacity unit='bytes'>${capacity}</capacity><allocation>0</allocation>` +
  `<target><format type='${escapeXml(format)}'/>${format === 'qcow2' ? '<compat>1.1</compat>' : ''}</target></volume>`;

const escapeXml = (text: string) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
