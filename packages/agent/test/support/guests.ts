import { writeFile } from 'node:fs/promises';

// Guests for migration tests beyond the harness's diskless one (guestXml).

/**
 * A 512-byte boot sector that switches to 32-bit protected mode and then, forever, writes a counter into
 * every 4 KiB page from 1 MiB to 48 MiB: under a 1 MiB/s bandwidth limit its first pass alone takes
 * about 47 s and no pass ever converges, so cancel, post-copy and timeouts have time to act. Assembled
 * with GNU as from this source (as --32; ld -m elf_i386 -Ttext 0x7c00 --oformat binary):
 *
 *         .code16
 *         cli
 *         xorw    %ax, %ax
 *         movw    %ax, %ds
 *         inb     $0x92, %al              # fast A20 on
 *         orb     $2, %al
 *         outb    %al, $0x92
 *         lgdtl   gdt_desc
 *         movl    %cr0, %eax
 *         orl     $1, %eax
 *         movl    %eax, %cr0
 *         ljmpl   $0x08, $flat
 *         .code32
 * flat:   movw    $0x10, %ax
 *         movw    %ax, %ds
 *         movw    %ax, %es
 *         xorl    %ebx, %ebx
 * sweep:  incl    %ebx
 *         movl    $0x100000, %edi
 * page:   movl    %ebx, (%edi)
 *         addl    $4096, %edi
 *         cmpl    $0x3000000, %edi
 *         jb      page
 *         jmp     sweep
 *         .p2align 3
 * gdt:    .quad 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
 * gdt_desc: .word 23
 *         .long gdt
 *         .org 510
 *         .word 0xaa55
 */
const BOOT_SECTOR =
  'fa31c08ed8e4920c02e692660f0116607c0f20c06683c8010f22c066ea237c0000080066b810008ed88ec031db43bf00001000' +
  '891f81c70010000081ff0000000372f0ebe88d76000000000000000000ffff0000009acf00ffff00000092cf001700487c';

/** Writes the boot image (1 MiB, raw) to `path`. */
export async function writeDirtyingBootImage(path: string): Promise<void> {
  const image = Buffer.alloc(1024 * 1024);
  Buffer.from(BOOT_SECTOR, 'hex').copy(image);
  image.writeUInt16LE(0xaa55, 510);
  await writeFile(path, image);
}

const escapeXml = (text: string) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

export interface DiskXml {
  path: string;
  target: string;
  format?: string;
  readOnly?: boolean;
}

/** A 64 MiB QEMU guest booting from its first disk (or the network, when it has none bootable). */
export function guestWithDisksXml(o: {
  name: string;
  uuid: string;
  disks: DiskXml[];
  boot?: 'hd' | 'network';
}) {
  const disks = o.disks
    .map(
      (d) => `    <disk type='file' device='disk'>
      <driver name='qemu' type='${d.format ?? 'raw'}' cache='none'/>
      <source file='${escapeXml(d.path)}'/>
      <target dev='${d.target}' bus='virtio'/>${d.readOnly ? '\n      <readonly/>' : ''}
    </disk>`,
    )
    .join('\n');
  return `<domain type='qemu'>
  <name>${escapeXml(o.name)}</name>
  <uuid>${o.uuid}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='${o.boot ?? 'hd'}'/>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
${disks}
    <memballoon model='none'/>
  </devices>
</domain>
`;
}
