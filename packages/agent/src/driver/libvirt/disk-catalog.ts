import { type BlockStat, blockSignature, type DiskSpec, parseDomainDisks } from './domain-disks.ts';

/**
 * What each domain's XML said of its disks, kept so that a re-list of unchanged domains reads no XML:
 * the bulk statistics of every listing carry each disk's target and source, and while those match
 * what was seen with the XML, its facts (format, read-only, shareable) still hold. An event about a
 * domain reads its XML again whatever the statistics say (a redefinition can change a disk's format).
 */
export class DiskCatalog {
  private readonly known = new Map<string, { signature: string; specs: DiskSpec[] }>();

  /** The domain's disks; `readXml` is called only when nothing valid is known (or `fresh`). */
  async specsOf(
    uuid: string,
    blocks: readonly BlockStat[],
    readXml: () => Promise<string>,
    fresh = false,
  ): Promise<DiskSpec[]> {
    const signature = blockSignature(blocks);
    const known = this.known.get(uuid);
    if (!fresh && known !== undefined && known.signature === signature) return known.specs;
    const specs = parseDomainDisks(await readXml());
    this.known.set(uuid, { signature, specs });
    return specs;
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
