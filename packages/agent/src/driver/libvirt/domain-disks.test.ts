import { describe, expect, it } from 'vitest';
import { DiskCatalog } from './disk-catalog.ts';
import { blockStatsOf, disksOf, parseDomainDisks } from './domain-disks.ts';

// The <devices> of a running domain as libvirt 9.0 writes them (virsh dumpxml of a harness guest), with a
// backing chain, a block device, an empty CD-ROM drive, an ISO, a network disk and an escaped path.
const XML = `<domain type='qemu' id='1'>
  <name>g1</name>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='/var/lib/libvirt/images/d1.qcow2' index='3'/>
      <backingStore type='file' index='4'>
        <format type='raw'/>
        <source file='/var/lib/libvirt/images/base.raw'/>
        <backingStore/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
    </disk>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw'/>
      <source dev='/dev/mapper/shared-lun' index='2'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
      <shareable/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/isos/debian &amp; co&apos;s.iso' index='1'/>
      <target dev='hdd' bus='ide'/>
      <readonly/>
    </disk>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='rbd' name='pool/image'/>
      <target dev='vdc' bus='virtio'/>
    </disk>
    <memballoon model='none'/>
  </devices>
</domain>`;

describe('domain disks', () => {
  it('reads file and block disks from the XML, not their backing chain; skips empty and network drives', () => {
    expect(parseDomainDisks(XML)).toEqual([
      {
        target: 'vda',
        path: '/var/lib/libvirt/images/d1.qcow2',
        format: 'qcow2',
        readOnly: false,
        shareable: false,
      },
      { target: 'vdb', path: '/dev/mapper/shared-lun', format: 'raw', readOnly: false, shareable: true },
      { target: 'hdd', path: "/isos/debian & co's.iso", format: 'raw', readOnly: true, shareable: false },
    ]);
    expect(parseDomainDisks("<domain><devices><memballoon model='none'/></devices></domain>")).toEqual([]);
  });

  it('takes capacities from block statistics, by target', () => {
    const stats = {
      'block.count': 3,
      'block.0.name': 'vda',
      'block.0.path': '/var/lib/libvirt/images/d1.qcow2',
      'block.0.capacity': 33554432n,
      'block.0.allocation': 200704n,
      'block.1.name': 'vdb',
      'block.1.path': '/dev/mapper/shared-lun',
      'block.1.capacity': 1073741824n,
      'block.2.name': 'hdc',
    };
    const blocks = blockStatsOf(stats);
    expect(blocks).toEqual([
      { target: 'vda', path: '/var/lib/libvirt/images/d1.qcow2', capacity: 33554432 },
      { target: 'vdb', path: '/dev/mapper/shared-lun', capacity: 1073741824 },
      { target: 'hdc', path: '', capacity: undefined },
    ]);
    const disks = disksOf(parseDomainDisks(XML), blocks);
    expect(disks.map((d) => [d.target, d.capacityBytes])).toEqual([
      ['vda', 33554432],
      ['vdb', 1073741824],
      ['hdd', 0],
    ]);
  });

  it('reads the XML again only when the statistics show another disk, or when asked to', async () => {
    const catalog = new DiskCatalog();
    let reads = 0;
    const readXml = async () => {
      reads++;
      return XML;
    };
    const blocks = [{ target: 'vda', path: '/var/lib/libvirt/images/d1.qcow2', capacity: 1 }];
    await catalog.disksOf('u1', blocks, readXml);
    await catalog.disksOf('u1', [{ ...blocks[0], capacity: 2 } as (typeof blocks)[0]], readXml);
    expect(reads).toBe(1);
    await catalog.disksOf('u1', [...blocks, { target: 'vdb', path: '/x', capacity: 1 }], readXml);
    expect(reads).toBe(2);
    await catalog.disksOf('u1', [...blocks, { target: 'vdb', path: '/x', capacity: 1 }], readXml, true);
    expect(reads).toBe(3);
    await catalog.disksOf('u2', [], readXml);
    catalog.retainOnly(new Set(['u2']));
    expect(catalog.size).toBe(1);
    await catalog.disksOf('u1', blocks, readXml);
    expect(reads).toBe(5);
  });

  it('keeps a disk’s last capacity when statistics carry none (its domain’s job lock was taken), for the same image only', async () => {
    const catalog = new DiskCatalog();
    const readXml = async () => XML;
    const vda = { target: 'vda', path: '/var/lib/libvirt/images/d1.qcow2' };
    const capacityOfVda = async (capacity: number | undefined, path = vda.path) =>
      (await catalog.disksOf('u1', [{ ...vda, path, capacity }], readXml)).find((d) => d.target === 'vda')
        ?.capacityBytes;
    expect(await capacityOfVda(undefined)).toBe(0);
    expect(await capacityOfVda(33554432)).toBe(33554432);
    expect(await capacityOfVda(undefined)).toBe(33554432);
    expect(await capacityOfVda(undefined)).toBe(33554432);
    expect(await capacityOfVda(67108864)).toBe(67108864);
    // Another image in the same drive: the old one's capacity says nothing of it.
    expect(await capacityOfVda(undefined, '/var/lib/libvirt/images/other.qcow2')).toBe(0);
    expect(await capacityOfVda(undefined)).toBe(0);
  });
});
