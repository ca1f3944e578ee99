import {
  connect,
  isNoDomain,
  type LibvirtConnection,
  VIR_DOMAIN_JOB_NONE,
  VIR_DOMAIN_JOB_OPERATION,
  VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT,
} from '@cockpit/libvirt';
import type { Logger } from 'pino';
import { isDriverError } from '../driver-error.ts';
import type {
  AbandonedMigration,
  IncomingMigration,
  MigrationDriver,
  MigrationJob,
  OutgoingMigration,
  ReleasedMigration,
} from '../migration-driver.ts';
import { parseDomainDisks } from './domain-disks.ts';
import { checkArrival, checkDisksUnused, disksToReceive } from './incoming-checks.ts';
import { toDriverError } from './libvirt-errors.ts';
import { LibvirtMigrationJob } from './libvirt-migration-job.ts';
import { readyImages, removeImages } from './migration-images.ts';
import { planMigration } from './migration-plan.ts';

export interface LibvirtMigrationOptions {
  /** This host's libvirtd, as the agent reaches it. */
  uri: string;
  /** Folders declared shared between hosts (--shared-storage), as libvirtd sees them. */
  sharedStorage: readonly string[];
  log: Logger;
}

const CALL_TIMEOUT_MS = 30_000;

/**
 * Live migration through libvirt. Each step opens a connection of its own to this host's libvirtd (the
 * driver's main connection is busy with events and listings, and libvirtd serves five requests per
 * client at a time): a prepare for its checks, a migration for as long as it runs.
 */
export class LibvirtMigration implements MigrationDriver {
  private readonly log: Logger;

  constructor(private readonly options: LibvirtMigrationOptions) {
    this.log = options.log.child({ libvirt: options.uri });
  }

  async prepareIncoming(incoming: IncomingMigration): Promise<{ createdImages: string[] }> {
    return this.withConnection(async (conn) => {
      await checkArrival(conn, incoming);
      const disks = disksToReceive(incoming, this.options.sharedStorage);
      await checkDisksUnused(conn, incoming.vmId, disks);
      const createdImages = await readyImages(
        conn,
        incoming.copyStorage,
        disks,
        this.log.child({ migrationId: incoming.migrationId }),
      );
      return { createdImages };
    });
  }

  async abandonIncoming(abandoned: AbandonedMigration): Promise<string[]> {
    return this.withConnection((conn) =>
      removeImages(
        conn,
        abandoned.vmId,
        abandoned.createdImages,
        this.log.child({ migrationId: abandoned.migrationId }),
      ),
    );
  }

  async releaseOutgoing(released: ReleasedMigration): Promise<string[]> {
    const log = this.log.child({ migrationId: released.migrationId });
    return this.withConnection((conn) => removeImages(conn, released.vmId, released.copiedImages, log));
  }

  async migrate(outgoing: OutgoingMigration): Promise<MigrationJob> {
    const log = this.log.child({ migrationId: outgoing.migrationId, vmId: outgoing.vmId });
    const conn = await this.open();
    try {
      const dom = await conn.domains.lookupByUuid(outgoing.vmId);
      const disks = parseDomainDisks(await conn.domains.getXmlDesc(dom));
      const plan = planMigration(outgoing.options, outgoing.migrateUri, disks, this.options.sharedStorage);
      log.info(
        { destination: outgoing.connectUri, flags: plan.flags, copied: plan.copied, unsafe: plan.unsafe },
        'starting a peer-to-peer migration',
      );
      // The images libvirt copies, as this host's own definition names them, into images the destination
      // created for them (so not the same files): once the VM runs there and is no longer defined here,
      // nothing uses them.
      const created = new Set(outgoing.destinationCreatedImages);
      const copied = disks
        .filter((d) => plan.copied.includes(d.target) && created.has(d.path))
        .map((d) => d.path);
      if (copied.length > 0) await outgoing.copying?.(copied);
      return await LibvirtMigrationJob.start(
        conn,
        dom,
        outgoing.connectUri,
        plan,
        outgoing.options.maxDowntimeMs,
        log,
        () => this.releaseCopiedImages(outgoing.vmId, copied, log),
      );
    } catch (err) {
      await conn.close();
      throw isDriverError(err) ? err : toDriverError(err);
    }
  }

  /**
   * After a migration with a storage copy completed: removes this host's images of the disks libvirt
   * copied, as Proxmox and Nova do, unless the VM is still defined here (no undefine_source) or a domain
   * uses them. Best effort: what cannot be removed is logged and left.
   */
  private async releaseCopiedImages(vmId: string, images: string[], log: Logger): Promise<void> {
    if (images.length === 0) return;
    await this.withConnection((conn) => removeImages(conn, vmId, images, log)).catch((err: unknown) => {
      log.warn({ err: (err as Error).message, images }, 'could not remove the images the migration copied');
    });
  }

  async runningJob(vmId: string): Promise<MigrationJob | undefined> {
    const conn = await this.open();
    try {
      const dom = await conn.domains.lookupByUuid(vmId);
      const job = await conn.jobs.getStats(dom);
      const outgoing =
        job.type !== VIR_DOMAIN_JOB_NONE &&
        job.stats[VIR_DOMAIN_JOB_OPERATION] === VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
      if (outgoing) return LibvirtMigrationJob.adopt(conn, dom, this.log.child({ vmId }));
    } catch (err) {
      await conn.close();
      if (isNoDomain(err)) return undefined;
      throw toDriverError(err);
    }
    await conn.close();
    return undefined;
  }

  private async open(): Promise<LibvirtConnection> {
    try {
      return await connect(this.options.uri, { callTimeoutMs: CALL_TIMEOUT_MS });
    } catch (err) {
      throw toDriverError(err);
    }
  }

  private async withConnection<T>(work: (conn: LibvirtConnection) => Promise<T>): Promise<T> {
    const conn = await this.open();
    try {
      return await work(conn);
    } catch (err) {
      throw isDriverError(err) ? err : toDriverError(err);
    } finally {
      await conn.close();
    }
  }
}
