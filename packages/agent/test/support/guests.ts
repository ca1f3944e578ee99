import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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

/**
 * A boot sector that waits for the ACPI power button and, about a second later, powers the machine off,
 * as an OS honouring a graceful shutdown does; it needs `acpi: true` (the PIIX4 power management device
 * of machine 'pc'). A press before it is ready is lost, as with an OS still booting: it writes "R" to its
 * first serial port when it is (`serialFile`).
 * Assembled as BOOT_SECTOR is, from:
 *
 *         .code16
 *         movl    $0x80000b40, %eax       # PCI config: 00:01.3 (PIIX4 PM), register 0x40 (PM base)
 *         movw    $0xcf8, %dx
 *         outl    %eax, %dx
 *         movw    $0xcfc, %dx
 *         inl     %dx, %eax
 *         andw    $0xffc0, %ax
 *         movw    %ax, %bx
 *         leaw    2(%bx), %dx             # PM1_EN: the power button
 *         movw    $0x0100, %ax
 *         outw    %ax, %dx
 *         movw    $0x3f8, %dx             # COM1: "ready for the power button"
 *         movb    $0x52, %al
 *         outb    %al, %dx
 *         sti                             # the BIOS's timer tick wakes each hlt
 * wait:   hlt
 *         movw    %bx, %dx                # PM1_STS: power button pressed?
 *         inw     %dx, %ax
 *         testw   $0x0100, %ax
 *         jz      wait
 *         movw    $18, %cx                # about 1 s of timer ticks, as an OS takes to shut down
 * delay:  hlt
 *         loop    delay
 *         leaw    4(%bx), %dx             # PM1_CNT: SLP_EN with SLP_TYP 0, soft off (S5)
 *         movw    $0x2000, %ax
 *         outw    %ax, %dx
 *         cli
 * off:    hlt
 *         jmp     off
 *         .org 510
 *         .word 0xaa55
 */
const ACPI_SHUTDOWN_SECTOR =
  '66b8400b0080baf80c66efbafc0c66ed83e0c089c38d5702b80001efbaf803b052eefbf489daeda9000174f7b91200f4e2fd8d5704b80020effaf4ebfd';

/** Writes a 1 MiB raw boot image with the sector to `path`. */
async function writeBootImage(path: string, sector: string): Promise<void> {
  const image = Buffer.alloc(1024 * 1024);
  Buffer.from(sector, 'hex').copy(image);
  image.writeUInt16LE(0xaa55, 510);
  await writeFile(path, image);
}

/** Writes the dirtying guest's boot image (1 MiB, raw) to `path`. */
export const writeDirtyingBootImage = (path: string) => writeBootImage(path, BOOT_SECTOR);

/** Writes the boot image of a guest that powers off on the ACPI power button (1 MiB, raw) to `path`. */
export const writeAcpiShutdownBootImage = (path: string) => writeBootImage(path, ACPI_SHUTDOWN_SECTOR);

const escapeXml = (text: string) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

export interface DiskXml {
  path: string;
  target: string;
  format?: string;
  readOnly?: boolean;
}

/** A QEMU guest (64 MiB unless said) booting from its first disk (or the network, when it has none bootable). */
export function guestWithDisksXml(o: {
  name: string;
  uuid: string;
  disks: DiskXml[];
  memoryMiB?: number;
  boot?: 'hd' | 'network';
  /** ACPI on (libvirt's default is off): the guest has a power button, for a graceful shutdown. */
  acpi?: boolean;
  /** Where the first serial port's output goes. */
  serialFile?: string;
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
  <memory unit='MiB'>${o.memoryMiB ?? 64}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='${o.boot ?? 'hd'}'/>
  </os>${o.acpi ? '\n  <features><acpi/></features>' : ''}
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
${disks}${o.serialFile === undefined ? '' : `\n    <serial type='file'><source path='${escapeXml(o.serialFile)}'/><target port='0'/></serial>`}
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/**
 * Writes, in `dir`, a guest that honours ACPI (writeAcpiShutdownBootImage): its boot image, its
 * definition (`xmlFile`, to define) and where its serial port writes "R" at each boot (`serialFile`).
 */
export async function writeAcpiGuest(
  dir: string,
  name: string,
): Promise<{ uuid: string; xmlFile: string; serialFile: string }> {
  const image = join(dir, `${name}.img`);
  const serialFile = join(dir, `${name}.serial`);
  const xmlFile = join(dir, `${name}.xml`);
  const uuid = randomUUID();
  await writeAcpiShutdownBootImage(image);
  const disks = [{ path: image, target: 'vda', readOnly: true }];
  await writeFile(xmlFile, guestWithDisksXml({ name, uuid, acpi: true, serialFile, disks }));
  return { uuid, xmlFile, serialFile };
}
