export interface GuestXmlOptions {
  name: string;
  uuid: string;
  /** Guest memory; 64 MiB is enough for SeaBIOS. */
  memoryMiB?: number;
}

/**
 * XML of a diskless QEMU guest (software emulation, `type='qemu'`: no KVM needed) that stays
 * `running`: with no disk and no NIC, SeaBIOS reports no bootable device and retries forever, at
 * next to no CPU. No devices with host state, so it migrates between any two harness hosts.
 */
export function guestXml({ name, uuid, memoryMiB = 64 }: GuestXmlOptions): string {
  return `<domain type='qemu'>
  <name>${escapeXml(name)}</name>
  <uuid>${escapeXml(uuid)}</uuid>
  <memory unit='MiB'>${memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='network'/>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
