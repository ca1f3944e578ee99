import type { Tx } from '../database/sql.ts';
import { UNFINISHED_MIGRATION_STATUSES } from '../migrations/migration-schema.ts';
import { ServiceError } from '../service-error.ts';

/** Advisory lock namespace ("pl", placement); the second key is the host id's hash. */
const LOCK_NAMESPACE = 0x706c;

/**
 * What a VM needs beyond its own memory on the host it runs on: QEMU's own (its code, device and
 * migration buffers, page tables), a few hundred MiB for a small guest. Without it a host whose available
 * memory matches the guest's exactly would be accepted, and then swap or call its OOM killer.
 */
export const QEMU_OVERHEAD_MIB = 256;

/** A host's memory as placement sees it. */
export interface MemoryRoom {
  /** Physical memory, MiB, as its agent reported it; null when it did not. */
  totalMib: number | null;
  /**
   * Free + buffers + cached in the host's latest performance sample, MiB (what its kernel can hand out
   * without swapping), when that sample is recent; null when there is none.
   */
  availableMib: number | null;
  /** When that sample was taken. */
  sampledAt: Date | null;
  /** The memory of the VMs on their way to this host (unfinished migrations), MiB, and how many. */
  incomingMib: number;
  incoming: number;
}

/**
 * Reads a host's memory room. With `lock`, first takes the host's placement lock for the rest of the
 * transaction, so that two decisions about the same host (two migrations to it) are taken one after the
 * other: the second one's count of incoming VMs includes the first's.
 */
export async function memoryRoom(
  tx: Tx,
  hostId: string,
  options: { now: Date; maxSampleAgeMs: number; lock: boolean },
): Promise<MemoryRoom> {
  if (options.lock) await tx`select pg_advisory_xact_lock(${LOCK_NAMESPACE}::int, hashtext(${hostId}))`;
  const oldest = new Date(options.now.getTime() - options.maxSampleAgeMs);
  // ::float8: the column is `real`, whose text form keeps only 7-8 digits (2 GiB would read 2047.99996 MiB).
  const [row] = await tx<
    {
      total_mib: string | null;
      available_bytes: number | null;
      sampled_at: Date | null;
      incoming_mib: string;
      incoming: number;
    }[]
  >`
    select h.memory_mib as total_mib, s.memory_available_bytes::float8 as available_bytes, s.at as sampled_at,
           coalesce(i.memory_mib, 0) as incoming_mib, coalesce(i.n, 0)::int as incoming
    from hosts h
    left join lateral (
      select at, memory_available_bytes from metric_host_raw
      where host_id = h.id and at >= ${oldest} and memory_available_bytes is not null
      order by at desc limit 1) s on true
    left join lateral (
      select sum(v.memory_mib) as memory_mib, count(*) as n
      from migrations m join vms v on v.id = m.vm_id
      where m.destination_host_id = h.id and m.status = any(${[...UNFINISHED_MIGRATION_STATUSES]}::text[])
    ) i on true
    where h.id = ${hostId}`;
  const mib = (bytes: number) => Math.floor(bytes / 2 ** 20);
  return {
    totalMib: row?.total_mib == null ? null : Number(row.total_mib),
    availableMib: row?.available_bytes == null ? null : mib(row.available_bytes),
    sampledAt: row?.sampled_at ?? null,
    incomingMib: Number(row?.incoming_mib ?? 0),
    incoming: row?.incoming ?? 0,
  };
}

/**
 * Refuses (`insufficient_memory`) a VM of `vmMemoryMib` that the host has no room for: its memory and
 * QEMU's overhead must fit in what the host's latest sample says is available, less what unfinished
 * migrations to it will take. Without a recent sample (metrics off, agent just connected) only its
 * physical memory is checked.
 */
export function requireMemoryRoom(
  room: MemoryRoom,
  host: { id: string; hostname: string },
  vmMemoryMib: number,
  now: Date,
): void {
  const needed = vmMemoryMib + QEMU_OVERHEAD_MIB;
  const promised =
    room.incoming === 0
      ? ''
      : `, ${n(room.incomingMib)} MiB of it promised to ${room.incoming} migration${room.incoming === 1 ? '' : 's'} on the way there`;
  const refuse = (what: string) => {
    throw new ServiceError(
      'insufficient_memory',
      `the destination host ${host.hostname} (${host.id}) ${what}; the VM has ${n(vmMemoryMib)} MiB and needs ` +
        `${QEMU_OVERHEAD_MIB} MiB more for QEMU: pick another destination, or make room there first`,
      { inputs: [{ input: 'destination_host_id', message: 'this host has too little memory for the VM' }] },
    );
  };
  if (room.availableMib !== null && room.sampledAt !== null) {
    if (room.availableMib - room.incomingMib < needed) {
      const age = Math.max(0, Math.round((now.getTime() - room.sampledAt.getTime()) / 1000));
      refuse(`has ${n(room.availableMib)} MiB of memory available (sampled ${age} s ago)${promised}`);
    }
  } else if (room.totalMib !== null && room.totalMib - room.incomingMib < needed) {
    refuse(`has ${n(room.totalMib)} MiB of memory in all${promised}`);
  }
}

const n = (mib: number) => mib.toLocaleString('en-US');
