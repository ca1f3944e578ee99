import type { HostInfo } from '@cockpit/proto';
import type { Sql, Tx } from '../database/sql.ts';
import type { HostDriver, HostStatus, HostView } from './host-schema.ts';

// The hosts table. Queries return hosts as the API shows them (HostView); stream ownership
// (stream_epoch, stream_replica) and the credential hash stay inside.

interface HostRow {
  id: string;
  hostname: string;
  status: HostStatus;
  sync_cursor: string;
  cpus: number | null;
  memory_mib: string | null;
  last_seen_at: Date | null;
  created_at: Date;
  driver: HostDriver | null;
  agent_version: string | null;
  hypervisor: string | null;
  libvirt_version: string | null;
  cpu_model: string | null;
  host_uuid: string | null;
  migration_uri: string | null;
  connected_at: Date | null;
  disconnected_at: Date | null;
}

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

// bigint columns arrive as strings; cursors and sizes stay far below 2^53, so JSON numbers are exact.
export const toHostView = (r: HostRow): HostView => ({
  id: r.id,
  hostname: r.hostname,
  status: r.status,
  sync_cursor: Number(r.sync_cursor),
  cpus: r.cpus,
  memory_mib: r.memory_mib === null ? null : Number(r.memory_mib),
  last_seen_at: iso(r.last_seen_at),
  created_at: r.created_at.toISOString(),
  driver: r.driver,
  agent_version: r.agent_version,
  hypervisor: r.hypervisor,
  libvirt_version: r.libvirt_version,
  cpu_model: r.cpu_model,
  host_uuid: r.host_uuid,
  migration_uri: r.migration_uri,
  connected_at: iso(r.connected_at),
  disconnected_at: iso(r.disconnected_at),
});

const COLUMNS = `id, hostname, status, sync_cursor, cpus, memory_mib, last_seen_at, created_at, driver,
  agent_version, hypervisor, libvirt_version, cpu_model, host_uuid, migration_uri, connected_at, disconnected_at`;

export async function listHosts(sql: Sql | Tx): Promise<HostView[]> {
  const rows = await sql<HostRow[]>`select ${sql.unsafe(COLUMNS)} from hosts order by hostname`;
  return rows.map(toHostView);
}

export async function findHost(sql: Sql | Tx, id: string): Promise<HostView | null> {
  const rows = await sql<HostRow[]>`select ${sql.unsafe(COLUMNS)} from hosts where id = ${id}`;
  return rows[0] === undefined ? null : toHostView(rows[0]);
}

/** The fields of a host that its agent reports (Join, Hello, host_updated). */
export interface HostFacts {
  agentVersion?: string;
  driver?: HostDriver;
  migrationUri?: string;
  info?: HostInfo;
}

const orNull = (s: string | undefined): string | null => (s === undefined || s === '' ? null : s);

/** Registers a joined host; null when the hostname is taken. */
export async function insertHost(
  tx: Tx,
  input: { id: string; hostname: string; credentialHash: string; facts: HostFacts; now: Date },
): Promise<HostView | null> {
  const info = input.facts.info;
  const rows = await tx<HostRow[]>`
    insert into hosts (id, hostname, status, credential_hash, agent_version, cpus, memory_mib, hypervisor,
                       libvirt_version, cpu_model, host_uuid, created_at, updated_at)
    values (${input.id}, ${input.hostname}, 'pending', ${input.credentialHash},
            ${orNull(input.facts.agentVersion)}, ${info?.cpus ?? null}, ${info?.memoryMib ?? null},
            ${orNull(info?.hypervisor)}, ${orNull(info?.libvirtVersion)}, ${orNull(info?.cpuModel)},
            ${orNull(info?.hostUuid)}, ${input.now}, ${input.now})
    on conflict (hostname) do nothing
    returning ${tx.unsafe(COLUMNS)}`;
  return rows[0] === undefined ? null : toHostView(rows[0]);
}

export async function findCredentialHash(sql: Sql | Tx, hostId: string): Promise<string | null> {
  const rows = await sql<{ credential_hash: string | null }[]>`
    select credential_hash from hosts where id = ${hostId}`;
  return rows[0]?.credential_hash ?? null;
}

export async function findRevokedCredentialHash(sql: Sql | Tx, hostId: string): Promise<string | null> {
  const rows = await sql<{ credential_hash: string }[]>`
    select credential_hash from revoked_hosts where host_id = ${hostId}`;
  return rows[0]?.credential_hash ?? null;
}

/**
 * A new stream takes the host: epoch + 1, this replica, connected, and what Hello says. Conditional on
 * the credential still being the host's (a concurrent delete wins). Returns the new epoch and the
 * applied cursor, or null when the host is gone.
 */
export async function takeStream(
  tx: Tx,
  input: { hostId: string; credentialHash: string; replica: string; facts: HostFacts; now: Date },
): Promise<{ epoch: number; view: HostView } | null> {
  const info = input.facts.info;
  const rows = await tx<(HostRow & { stream_epoch: string })[]>`
    update hosts set
      stream_epoch = stream_epoch + 1, stream_replica = ${input.replica}, status = 'connected',
      connected_at = ${input.now}, last_seen_at = ${input.now}, updated_at = ${input.now},
      agent_version = coalesce(${orNull(input.facts.agentVersion)}, agent_version),
      driver = coalesce(${input.facts.driver ?? null}, driver),
      migration_uri = ${orNull(input.facts.migrationUri)},
      ${info === undefined ? tx`` : hostInfoAssignments(tx, info)}
      id = id
    where id = ${input.hostId} and credential_hash = ${input.credentialHash}
    returning ${tx.unsafe(COLUMNS)}, stream_epoch`;
  const row = rows[0];
  return row === undefined ? null : { epoch: Number(row.stream_epoch), view: toHostView(row) };
}

/** `col = value,` for each field of HostInfo (a trailing comma: callers end the list themselves). */
function hostInfoAssignments(sql: Sql | Tx, info: HostInfo) {
  return sql`
    cpus = ${info.cpus}, memory_mib = ${info.memoryMib}, hypervisor = ${orNull(info.hypervisor)},
    libvirt_version = ${orNull(info.libvirtVersion)}, cpu_model = ${orNull(info.cpuModel)},
    host_uuid = ${orNull(info.hostUuid)},`;
}

/** The host record changed (host_updated, or a snapshot's host); conditional on the stream's epoch. */
export function updateHostInfo(tx: Tx, hostId: string, info: HostInfo, now: Date): Promise<unknown> {
  // Sent now (not when awaited): a statement the caller makes next goes out after it, in one round trip.
  return tx`update hosts set ${hostInfoAssignments(tx, info)} updated_at = ${now} where id = ${hostId}`.execute();
}

/**
 * The stream of `epoch` ended (or went silent): the host is disconnected, unless a newer stream
 * already took it. Returns the view when this call changed it.
 */
export async function releaseStream(
  sql: Sql | Tx,
  input: { hostId: string; epoch: number; now: Date },
): Promise<HostView | null> {
  const rows = await sql<HostRow[]>`
    update hosts set status = 'disconnected', stream_replica = null, disconnected_at = ${input.now},
                     updated_at = ${input.now}
    where id = ${input.hostId} and stream_epoch = ${input.epoch} and status = 'connected'
    returning ${sql.unsafe(COLUMNS)}`;
  return rows[0] === undefined ? null : toHostView(rows[0]);
}

/**
 * Hosts per transaction of the last-seen flush. The sync ingest's group commits lock the rows of their
 * hosts: one transaction for a replica's 1,000 streams held all their rows until it committed, and
 * every change arriving meanwhile waited for it (bench:sync's probe p99).
 */
const LAST_SEEN_CHUNK = 100;

/**
 * Last-seen times of live streams: one statement per `LAST_SEEN_CHUNK` of a replica's streams, each in
 * its own short transaction. Returns the hosts whose stream epoch still matched: a stream missing from
 * it no longer holds its host.
 */
export async function touchLastSeen(
  sql: Sql,
  seen: ReadonlyArray<{ hostId: string; epoch: number; at: Date }>,
): Promise<string[]> {
  const matched: string[] = [];
  for (let i = 0; i < seen.length; i += LAST_SEEN_CHUNK) {
    const chunk = seen.slice(i, i + LAST_SEEN_CHUNK);
    const rows = await sql.begin(async (tx) => {
      await lockHostsInOrder(
        tx,
        chunk.map((s) => s.hostId),
      );
      return tx<{ id: string }[]>`
        update hosts set last_seen_at = greatest(hosts.last_seen_at, s.at)
        from unnest(${chunk.map((s) => s.hostId)}::uuid[], ${chunk.map((s) => s.epoch)}::bigint[],
                    ${chunk.map((s) => s.at.toISOString())}::timestamptz[]) as s (id, epoch, at)
        where hosts.id = s.id and hosts.stream_epoch = s.epoch
        returning hosts.id`;
    });
    for (const r of rows) matched.push(r.id);
  }
  return matched;
}

/**
 * Locks host rows in id order. Statements that update many hosts take this first, so that two of them
 * (the sync ingest's group commits, the last-seen flush) always wait on each other in the same order
 * and never deadlock. FOR NO KEY UPDATE, the lock their UPDATEs take anyway, and not FOR UPDATE: that
 * one also conflicts with the FOR KEY SHARE a foreign key check takes (a migration's insert references
 * its source and destination, a command its host, in their own order), which deadlocked with it.
 */
export function lockHostsInOrder(tx: Tx, hostIds: readonly string[]): Promise<unknown> {
  if (hostIds.length === 0) return Promise.resolve();
  // Sent now (not when awaited): a statement the caller pipelines after it goes out after it.
  return tx`select 1 from hosts where id = any(${[...hostIds]}::uuid[]) order by id for no key update`.execute();
}

/**
 * Connected hosts not seen since `before`: a replica died with their streams (or lost its database).
 * Idempotent; any replica may run it. Returns the views it disconnected. Their stream epoch moves on: a
 * stream still alive on a replica that only fell behind (its last-seen flush late past the deadline)
 * then no longer holds the host, is told so at its next flush, and its agent reconnects, which marks the
 * host connected again; kept, the stream would have fed a host shown disconnected until some reconnect.
 */
export async function disconnectSilentHosts(
  sql: Sql | Tx,
  before: Date,
  now: Date,
  /** Hosts whose streams the caller holds (its own deadline watches them). */
  except: readonly string[],
): Promise<HostView[]> {
  const rows = await sql<HostRow[]>`
    update hosts set status = 'disconnected', stream_replica = null, stream_epoch = stream_epoch + 1,
                     disconnected_at = ${now}, updated_at = ${now}
    where status = 'connected' and (last_seen_at is null or last_seen_at < ${before})
      and id <> all(${except as string[]}::uuid[])
    returning ${sql.unsafe(COLUMNS)}`;
  return rows.map(toHostView);
}

/** Locks a host's row for its deletion; false when there is no such host. */
export async function lockHostForDelete(tx: Tx, hostId: string): Promise<boolean> {
  const rows = await tx`select 1 from hosts where id = ${hostId} for update`;
  return rows.length === 1;
}

/**
 * Deletes a host (its VMs, conflicts and commands go with it) and remembers its credential as revoked.
 * Returns false when there is no such host.
 */
export async function deleteHost(tx: Tx, hostId: string, now: Date): Promise<boolean> {
  const rows = await tx<{ hostname: string; credential_hash: string | null }[]>`
    delete from hosts where id = ${hostId} returning hostname, credential_hash`;
  const row = rows[0];
  if (row === undefined) return false;
  if (row.credential_hash !== null) {
    await tx`
      insert into revoked_hosts (host_id, hostname, credential_hash, revoked_at)
      values (${hostId}, ${row.hostname}, ${row.credential_hash}, ${now})
      on conflict (host_id) do nothing`;
  }
  return true;
}
