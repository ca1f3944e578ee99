import { describe, expect, it } from 'vitest';
import { migrateParamsToTyped } from './api/migrate-params.ts';
import {
  VIR_MIGRATE_PARAM_BANDWIDTH,
  VIR_MIGRATE_PARAM_MIGRATE_DISKS,
  VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
  VIR_MIGRATE_PARAM_PERSIST_XML,
  VIR_MIGRATE_PARAM_URI,
} from './protocol/libvirt-constants.gen.ts';
import { decRemoteTypedParam, encRemoteTypedParam } from './protocol/remote-types.gen.ts';
import {
  fromRemoteTypedParam,
  type TypedParam,
  toRemoteTypedParam,
  typedParamsToRecord,
} from './typed-params.ts';
import { XdrReader, XdrWriter } from './xdr/index.ts';

const all: TypedParam[] = [
  { field: 'i', type: 'int', value: -7 },
  { field: 'u', type: 'uint', value: 4_000_000_000 },
  { field: 'l', type: 'llong', value: -(2n ** 62n) },
  { field: 'U', type: 'ullong', value: 2n ** 64n - 1n },
  { field: 'd', type: 'double', value: 3.25 },
  { field: 'b', type: 'boolean', value: true },
  { field: 'f', type: 'boolean', value: false },
  { field: 's', type: 'string', value: 'ünïcode' },
  // The edges of each kind.
  { field: 'imin', type: 'int', value: -(2 ** 31) },
  { field: 'imax', type: 'int', value: 2 ** 31 - 1 },
  { field: 'umax', type: 'uint', value: 2 ** 32 - 1 },
  { field: 'lmin', type: 'llong', value: -(2n ** 63n) },
  { field: 'lmax', type: 'llong', value: 2n ** 63n - 1n },
  { field: 'dneg', type: 'double', value: -1e-300 },
  { field: 'dinf', type: 'double', value: Number.NEGATIVE_INFINITY },
  { field: 'empty', type: 'string', value: '' },
];

describe('typed parameters', () => {
  it('every kind survives friendly → wire → bytes → wire → friendly unchanged', () => {
    for (const p of all) {
      const w = new XdrWriter();
      encRemoteTypedParam(w, toRemoteTypedParam(p));
      const r = new XdrReader(w.finish());
      expect(fromRemoteTypedParam(decRemoteTypedParam(r))).toEqual(p);
      r.end();
    }
  });

  it('record view keeps the last value of a repeated field', () => {
    expect(
      typedParamsToRecord([
        { field: 'a', type: 'int', value: 1 },
        { field: 'a', type: 'int', value: 2 },
      ]),
    ).toEqual({ a: 2 });
  });

  it('migration parameters get the types libvirt expects, repeated fields repeated', () => {
    const params = migrateParamsToTyped({
      uri: 'tcp://10.0.0.2:49152',
      persistXml: '<domain/>',
      bandwidthMiBs: 100,
      migrateDisks: ['vda', 'vdb'],
      parallelConnections: 4,
      extra: [{ field: 'x', type: 'uint', value: 1 }],
    });
    expect(params).toEqual([
      { field: VIR_MIGRATE_PARAM_URI, type: 'string', value: 'tcp://10.0.0.2:49152' },
      { field: VIR_MIGRATE_PARAM_PERSIST_XML, type: 'string', value: '<domain/>' },
      { field: VIR_MIGRATE_PARAM_BANDWIDTH, type: 'ullong', value: 100n },
      { field: VIR_MIGRATE_PARAM_MIGRATE_DISKS, type: 'string', value: 'vda' },
      { field: VIR_MIGRATE_PARAM_MIGRATE_DISKS, type: 'string', value: 'vdb' },
      { field: VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS, type: 'int', value: 4 },
      { field: 'x', type: 'uint', value: 1 },
    ]);
    expect(VIR_MIGRATE_PARAM_URI).toBe('migrate_uri');
  });
});
