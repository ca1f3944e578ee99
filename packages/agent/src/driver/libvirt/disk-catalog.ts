import type { Disk } from '@cockpit/proto';
import { type BlockStat, blockSignature, type DiskSpec, disksOf, parseDomainDisks } from './domain-disks.ts';

interface Known {
  /** The block statistics' targets and sources when the XML was read. */
  signature: string;
  specs: DiskSpec[];
  /** The last capacity read of each disk, by target and source. */
  capacities: Map<string, number>;
}

/**
 * What each domain's XML said of its disks, kept so that a re-list of unchanged domains reads no XML:
 * the bulk statistics of every listing carry each disk's target and source, and while those match
 * what was seen with the XML, its facts (format, read-only, shareable) still hold. An event about a
 * domain reads its XML again whatever the statistics say (a redefinition can change a disk's format).
 * It also keeps each disk's last capacity: statistics read while the domain's job lock is taken carry
 * none, and a record saying 0 would be a change that did not happen (and a copy-storage migration
 * planned from it would have no size for the image it creates).
 */
export class DiskCatalog {
  private readonly known = new Map<string, Known>();

  /** The domain's disks; `readXml` is called only when nothing valid is known (or `fresh`). */
  async disksOf(
    uuid: string,
    blocks: readonly BlockStat[],
    readXml: () => Promise<string>,
    fresh = false,
  ): Promise<Disk[]> {
    const signature = blockSignature(blocks);
    let known = this.known.get(uuid);
    if (fresh || known === undefined || known.signature !== signature) {
      const specs = parseDomainDisks(await readXml());
      known = { signature, specs, capacities: this.known.get(uuid)?.capacities ?? new Map() };
      this.known.set(uuid, known);
    }
    const capacities = new Map<string, number>();
    const measured = blocks.map((block) => {
      const key = `${block.target}\u0000${block.path}`;
      const capacity = block.capacity ?? known.capacities.get(key);
      if (capacity !== undefined) capacities.set(key, capacity);
      return { ...block, capacity };
    });
    known.capacities = capacities;
    return disksOf(known.specs, measured);
  }

  forget(uuid: string): void {
    this.known.delete(uuid);
  }

  /** Forgets every domain but these (after a full listing). */
  retainOnly(uuids: ReadonlySet<string>): void {
    for (const uuid of this.known.keys()) if (!uuids.has(uuid)) this.known.delete(uuid);
  }

  get size(): number {
    return this.known.size;
  }
}
