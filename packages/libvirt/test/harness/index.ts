export { freePortRange, isPortFree } from './free-ports.ts';
export { type GuestXmlOptions, guestXml } from './guest-xml.ts';
export {
  isLibvirtHostError,
  type LibvirtHost,
  LibvirtHostError,
  type LibvirtHostOptions,
  startLibvirtHost,
  stopLibvirtHost,
} from './libvirt-host.ts';
export { isVirshError, VirshError, virsh, virshDominfo, virshListAll } from './virsh.ts';
export { isWaitTimeout, type WaitForOptions, WaitTimeoutError, waitFor } from './wait-for.ts';
