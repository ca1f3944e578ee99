import type { TypedParamRecord } from '@cockpit/libvirt';
import type { Disk } from '@cockpit/proto';

/** What the domain XML says of one disk, and block statistics do not. */
export interface DiskSpec {
  target: string;
  path: string;
  format: string;
  readOnly: boolean;
  shareable: boolean;
}

/** What block statistics (VIR_DOMAIN_STATS_BLOCK) say of one disk: cheap, part of every listing. */
export interface BlockStat {
  target: string;
  /** Empty when the drive has no medium. */
  path: string;
  /**
   * Undefined when libvirt reports none: an empty drive, storage it could not read, or a domain whose
   * job lock was taken (statistics read with NOWAIT leave out what QEMU is asked for).
   */
  capacity?: number | undefined;
}

const DISK = /<disk\b([^>]*)>([\s\S]*?)<\/disk>/g;
// A disk's backing chain and a running block copy's target carry <source> elements of their own; the
// disk's own source comes first, and these are cut out before reading it.
const NESTED = /<backingStore\b[\s\S]*<\/backingStore>|<backingStore\b[^>]*\/>|<mirror\b[\s\S]*?<\/mirror>/g;

/**
 * The file and block disks of a domain XML, in the domain's order. Disks without a source (an empty
 * CD-ROM drive) and network or pool-volume disks are left out: they have no host path to report.
 * libvirt writes its XML in one canonical form, which is all this reads.
 */
export function parseDomainDisks(xml: string): DiskSpec[] {
  const disks: DiskSpec[] = [];
  for (const [, attributes = '', inner = ''] of xml.matchAll(DISK)) {
    const type = attr(attributes, 'type');
    if (type !== 'file' && type !== 'block') continue;
    const body = inner.replace(NESTED, '');
    const source = element(body, 'source');
    const path = source === undefined ? undefined : attr(source, type === 'file' ? 'file' : 'dev');
    const target = attr(element(body, 'target') ?? '', 'dev');
    if (path === undefined || path === '' || target === undefined) continue;
    disks.push({
      target,
      path,
      format: attr(element(body, 'driver') ?? '', 'type') ?? 'raw',
      readOnly: /<readonly\s*\/>/.test(body),
      shareable: /<shareable\s*\/>/.test(body),
    });
  }
  return disks;
}

/** The per-disk entries of bulk statistics (block.<n>.name, .path, .capacity). */
export function blockStatsOf(stats: TypedParamRecord): BlockStat[] {
  const count = Number(stats['block.count'] ?? 0);
  const blocks: BlockStat[] = [];
  for (let i = 0; i < count; i++) {
    const target = stats[`block.${i}.name`];
    if (typeof target !== 'string') continue;
    const path = stats[`block.${i}.path`];
    const capacity = stats[`block.${i}.capacity`];
    blocks.push({
      target,
      path: typeof path === 'string' ? path : '',
      capacity: typeof capacity === 'bigint' || typeof capacity === 'number' ? Number(capacity) : undefined,
    });
  }
  return blocks;
}

/** The disks a Vm record carries: the XML's facts with the capacity block statistics report (else 0). */
export function disksOf(specs: readonly DiskSpec[], blocks: readonly BlockStat[]): Disk[] {
  return specs.map((spec) => ({
    target: spec.target,
    path: spec.path,
    format: spec.format,
    capacityBytes: blocks.find((b) => b.target === spec.target)?.capacity ?? 0,
    readOnly: spec.readOnly,
    shareable: spec.shareable,
  }));
}

/**
 * What must stay the same for facts read from an earlier XML to still hold: each disk's target and
 * source. A disk attached, detached or given another image changes it, and the XML is read again.
 */
export const blockSignature = (blocks: readonly BlockStat[]): string =>
  blocks.map((b) => `${b.target}\u0000${b.path}`).join('\n');

function element(body: string, name: string): string | undefined {
  return new RegExp(`<${name}\\b([^>]*)>`).exec(body)?.[1];
}

function attr(attributes: string, name: string): string | undefined {
  const value = new RegExp(`\\b${name}=(['"])(.*?)\\1`).exec(attributes)?.[2];
  return value === undefined ? undefined : unescapeXml(value);
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref.startsWith('#x') || ref.startsWith('#X')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number(ref.slice(1)));
    return ENTITIES[ref] ?? whole;
  });
}
