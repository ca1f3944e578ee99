import { type HostInfo, type Vm, VmState } from '@cockpit/proto';
import type { Prng } from './prng.ts';

const ROLES = ['web', 'api', 'db', 'cache', 'worker', 'build', 'mail', 'proxy', 'queue', 'search'] as const;
const SIZES = [
  { vcpus: 1, memoryMib: 1024 },
  { vcpus: 2, memoryMib: 2048 },
  { vcpus: 2, memoryMib: 4096 },
  { vcpus: 4, memoryMib: 8192 },
  { vcpus: 8, memoryMib: 16384 },
] as const;

/**
 * The VMs a simulated host starts with: names like `web-3f2a`, sizes of a typical fleet, most running, some
 * shut off, a few paused. Ids come from the generator, seeded per host, so every host of a benchmark has
 * its own and the same seed gives the same fleet. Names are unique on the host, as libvirt wants, and
 * unlikely to be taken on another one (a random suffix, not a per-host counter: the demo's `web-01` on
 * both hosts could not migrate, its name being taken on the other).
 */
export function initialVms(prng: Prng, count: number): Vm[] {
  const names = new Set<string>();
  return Array.from({ length: count }, () => {
    const role = prng.pick(ROLES);
    let name: string;
    do name = `${role}-${prng.int(0x10000).toString(16).padStart(4, '0')}`;
    while (names.has(name));
    names.add(name);
    const size = prng.pick(SIZES);
    const roll = prng.next();
    const [state, stateReason] =
      roll < 0.75
        ? [VmState.VM_STATE_RUNNING, 'booted']
        : roll < 0.95
          ? [VmState.VM_STATE_SHUT_OFF, 'shutdown']
          : [VmState.VM_STATE_PAUSED, 'user'];
    return {
      id: prng.uuid(),
      name,
      state,
      stateReason,
      vcpus: size.vcpus,
      memoryMib: size.memoryMib,
      maxMemoryMib: size.memoryMib,
      persistent: true,
      autostart: prng.next() < 0.5,
      disks: [],
    };
  });
}

/** A plausible host: it says it is simulated in its hypervisor and version strings. */
export function simulatedHost(prng: Prng): HostInfo {
  return {
    hypervisor: 'QEMU 7.2.0 (simulated)',
    libvirtVersion: '9.0.0 (simulated)',
    cpus: prng.pick([32, 48, 64, 96]),
    memoryMib: prng.pick([131072, 262144, 524288]),
    cpuModel: 'simulated x86_64',
    hostUuid: prng.uuid(),
  };
}
