// The libvirt host harness of deploy/dev/libvirt-host, through its TypeScript wrapper in
// packages/libvirt/test/harness (test support, not the package's API: reached by a relative path).
export {
  guestXml,
  type LibvirtHost,
  startLibvirtHost,
  virsh,
  virshDominfo,
  waitFor,
} from '../../../libvirt/test/harness/index.ts';
