import type { CopyStorage, Disk, MigrationOptions, MigrationProgress } from '@cockpit/proto';

/** What the destination gets ready for (MigrationPrepare in the driver's terms). */
export interface IncomingMigration {
  migrationId: string;
  /** Lower-case UUID. */
  vmId: string;
  vmName: string;
  copyStorage: CopyStorage;
  disks: readonly Disk[];
}

/** What a destination readied for a migration that then ended without the VM arriving. */
export interface AbandonedMigration {
  migrationId: string;
  /** Lower-case UUID. */
  vmId: string;
  /** The images its prepare created, as the agent recorded them (never paths the controller names). */
  createdImages: readonly string[];
}

/** What the source runs (MigrationPerform in the driver's terms). */
export interface OutgoingMigration {
  migrationId: string;
  /** Lower-case UUID. */
  vmId: string;
  /** The destination hypervisor's URI (its agent's migration URI). */
  connectUri: string;
  /** Where the hypervisor's migration stream goes; empty lets the hypervisor choose. */
  migrateUri: string;
  options: MigrationOptions;
  /**
   * The images the destination created for a storage copy: once the migration completed, this host's
   * copies of those disks go (never of one the destination already had, maybe the same shared file).
   */
  destinationCreatedImages: readonly string[];
  /**
   * Told, before the hypervisor starts, which of this host's images the storage copy copies into those
   * (removed here once the migration completed): the agent notes them in its record, so that a release
   * after its own restart removes them. Awaited.
   */
  copying?: (images: string[]) => Promise<void>;
}

/** A migration that completed while the source's agent was not following it (MigrationRelease). */
export interface ReleasedMigration {
  migrationId: string;
  /** Lower-case UUID. */
  vmId: string;
  /** This host's images the storage copy copied away, as the agent noted them at the perform. */
  copiedImages: readonly string[];
}

/** An outgoing migration as the hypervisor runs it. */
export interface MigrationJob {
  /**
   * Settles when the hypervisor is done: resolves with the final figures when it reports them, rejects
   * with a DriverError in the hypervisor's words when the migration failed or was aborted (the VM then
   * still runs here).
   */
  readonly finished: Promise<MigrationProgress | undefined>;
  /** The figures now; undefined while the hypervisor has none yet or no longer runs the job. */
  progress(): Promise<MigrationProgress | undefined>;
  /** Aborts the migration: `finished` rejects and the VM keeps running here. */
  abort(): Promise<void>;
  /** Switches a running migration to post-copy (the VM runs on the destination from now on). */
  startPostCopy(): Promise<void>;
}

/**
 * Live migration as a driver carries it out (HypervisorDriver.migration). src/migration drives it: the
 * commands, progress reports, timeouts and which migration is which.
 */
export interface MigrationDriver {
  /**
   * Checks this host can take the VM and readies what the hypervisor needs to receive it (disk images
   * to copy into). Rejects with a DriverError saying why not; resolves with the images it created.
   */
  prepareIncoming(incoming: IncomingMigration): Promise<{ createdImages: string[] }>;
  /**
   * Removes the images a prepare created for a migration that ended without the VM arriving, unless the
   * VM is defined here after all or a domain uses the image; resolves with the paths removed.
   */
  abandonIncoming(abandoned: AbandonedMigration): Promise<string[]>;
  /**
   * Removes this host's images a completed storage copy copied away, unless the VM is still defined here
   * or a domain uses the image (as after a migration this process followed); resolves with those removed.
   */
  releaseOutgoing(released: ReleasedMigration): Promise<string[]>;
  /** Starts migrating; resolves once the hypervisor runs it, rejects when it could not start it. */
  migrate(outgoing: OutgoingMigration): Promise<MigrationJob>;
  /**
   * The outgoing migration of `vmId` the hypervisor runs without this process having started it (the
   * agent restarted meanwhile), or undefined.
   */
  runningJob(vmId: string): Promise<MigrationJob | undefined>;
  /**
   * The URI other hosts reach this one under, when the driver itself decides it (the simulated driver's
   * listener, once started: the port it got and its host UUID; empty when it takes no migrations).
   * Without it the agent's --migration-uri is the URI.
   */
  advertisedUri?(): string;
}

// The agent's own CommandError codes for migration steps, next to libvirt's error code names.
/** Prepare: a domain with the VM's UUID is already active on the destination. */
export const VM_RUNNING_HERE = 'vm_running_here';
/** Prepare: another domain on the destination has the VM's name. */
export const NAME_IN_USE = 'name_in_use';
/** Prepare: another domain on the destination uses an image the storage copy would write into. */
export const DISK_IN_USE = 'disk_in_use';
/** Prepare: an image is already on the destination with another capacity than the disk's. */
export const DISK_EXISTS = 'disk_exists';
/** Prepare, copy_storage inc: an image is missing on the destination. */
export const STORAGE_MISSING = 'storage_missing';
/** Prepare: the agent has no migration URI (--migration-uri), so other hosts cannot reach it. */
export const NOT_A_MIGRATION_TARGET = 'not_a_migration_target';
/** A command that cannot be right whatever the host's state: no VM id, no destination URI, … */
export const INVALID_REQUEST = 'invalid_request';
/**
 * The perform's outcome is unknown to this agent (it restarted, or lost libvirtd during the job): the
 * controller settles the migration from the journals.
 */
export const INTERRUPTED_CODE = 'interrupted';
/** Perform: this agent already migrates that VM. */
export const MIGRATION_IN_PROGRESS = 'migration_in_progress';
/** Cancel, force-complete: no migration of that id (or VM) runs here. */
export const NO_MIGRATION_RUNNING = 'no_migration_running';
/**
 * Cancel: the migration completed before the abort took effect; the VM runs on the destination. Apart
 * from no_migration_running (nothing ran, so the VM never left): the controller waits for the journals.
 */
export const MIGRATION_COMPLETED = 'migration_completed';
/** Force-complete: the perform did not allow post-copy. */
export const POST_COPY_NOT_ALLOWED = 'post_copy_not_allowed';
/** Perform: aborted because completion_timeout_s passed. */
export const COMPLETION_TIMEOUT = 'completion_timeout';
/** Perform: aborted by a MigrationCancel. */
export const CANCELLED = 'cancelled';
