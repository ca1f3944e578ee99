import { integerArgument } from '../arguments.ts';
import {
  VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT,
  VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL,
  VIR_MIGRATE_PARAM_BANDWIDTH,
  VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY,
  VIR_MIGRATE_PARAM_COMPRESSION,
  VIR_MIGRATE_PARAM_DEST_NAME,
  VIR_MIGRATE_PARAM_DEST_XML,
  VIR_MIGRATE_PARAM_DISKS_PORT,
  VIR_MIGRATE_PARAM_DISKS_URI,
  VIR_MIGRATE_PARAM_GRAPHICS_URI,
  VIR_MIGRATE_PARAM_LISTEN_ADDRESS,
  VIR_MIGRATE_PARAM_MIGRATE_DISKS,
  VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
  VIR_MIGRATE_PARAM_PERSIST_XML,
  VIR_MIGRATE_PARAM_TLS_DESTINATION,
  VIR_MIGRATE_PARAM_URI,
} from '../protocol/libvirt-constants.gen.ts';
import type { TypedParam } from '../typed-params.ts';

/** virDomainMigrate* typed parameters (VIR_MIGRATE_PARAM_*), each with the type libvirt expects. */
export interface MigrateParams {
  /** Hypervisor migration URI, e.g. `tcp://10.0.0.2:49152` (migrate_uri). */
  uri?: string;
  /** New name on the destination (destination_name). */
  destName?: string;
  /** Domain XML used to start the guest on the destination (destination_xml). */
  destXml?: string;
  /** Persistent XML defined on the destination with VIR_MIGRATE_PERSIST_DEST (persistent_xml). */
  persistXml?: string;
  /** MiB/s (bandwidth, ullong). */
  bandwidthMiBs?: number | bigint;
  /** MiB/s during post-copy (bandwidth.postcopy, ullong). */
  bandwidthPostcopyMiBs?: number | bigint;
  graphicsUri?: string;
  listenAddress?: string;
  /** Disk targets to copy with storage migration (migrate_disks, repeated). */
  migrateDisks?: string[];
  disksPort?: number;
  disksUri?: string;
  /** Compression methods (compression, repeated): e.g. `xbzrle`, `mt`, `zstd`. */
  compression?: string[];
  autoConvergeInitial?: number;
  autoConvergeIncrement?: number;
  parallelConnections?: number;
  tlsDestination?: string;
  /** Anything else, passed through as given. */
  extra?: TypedParam[];
}

export function migrateParamsToTyped(p: MigrateParams): TypedParam[] {
  const out: TypedParam[] = [];
  const str = (field: string, v: string | undefined) => {
    if (v !== undefined) out.push({ field, type: 'string', value: v });
  };
  const int = (field: string, v: number | undefined) => {
    if (v !== undefined) out.push({ field, type: 'int', value: v });
  };
  const ullong = (field: string, v: number | bigint | undefined) => {
    if (v !== undefined) out.push({ field, type: 'ullong', value: integerArgument(field, v) });
  };
  str(VIR_MIGRATE_PARAM_URI, p.uri);
  str(VIR_MIGRATE_PARAM_DEST_NAME, p.destName);
  str(VIR_MIGRATE_PARAM_DEST_XML, p.destXml);
  str(VIR_MIGRATE_PARAM_PERSIST_XML, p.persistXml);
  ullong(VIR_MIGRATE_PARAM_BANDWIDTH, p.bandwidthMiBs);
  ullong(VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY, p.bandwidthPostcopyMiBs);
  str(VIR_MIGRATE_PARAM_GRAPHICS_URI, p.graphicsUri);
  str(VIR_MIGRATE_PARAM_LISTEN_ADDRESS, p.listenAddress);
  for (const d of p.migrateDisks ?? []) str(VIR_MIGRATE_PARAM_MIGRATE_DISKS, d);
  int(VIR_MIGRATE_PARAM_DISKS_PORT, p.disksPort);
  str(VIR_MIGRATE_PARAM_DISKS_URI, p.disksUri);
  for (const c of p.compression ?? []) str(VIR_MIGRATE_PARAM_COMPRESSION, c);
  int(VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL, p.autoConvergeInitial);
  int(VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT, p.autoConvergeIncrement);
  int(VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS, p.parallelConnections);
  str(VIR_MIGRATE_PARAM_TLS_DESTINATION, p.tlsDestination);
  out.push(...(p.extra ?? []));
  return out;
}
