import { integerArgument } from './arguments.ts';
import { LibvirtClientError } from './errors.ts';
import {
  VIR_TYPED_PARAM_BOOLEAN,
  VIR_TYPED_PARAM_DOUBLE,
  VIR_TYPED_PARAM_INT,
  VIR_TYPED_PARAM_LLONG,
  VIR_TYPED_PARAM_STRING,
  VIR_TYPED_PARAM_UINT,
  VIR_TYPED_PARAM_ULLONG,
} from './protocol/libvirt-constants.gen.ts';
import type { RemoteTypedParam } from './protocol/remote-types.gen.ts';

/** virTypedParameter, friendly: the kind is kept so a value round-trips exactly. */
export type TypedParam =
  | { field: string; type: 'int'; value: number }
  | { field: string; type: 'uint'; value: number }
  | { field: string; type: 'llong'; value: bigint }
  | { field: string; type: 'ullong'; value: bigint }
  | { field: string; type: 'double'; value: number }
  | { field: string; type: 'boolean'; value: boolean }
  | { field: string; type: 'string'; value: string };

export type TypedParamValue = number | bigint | boolean | string;
/** Field → value. A field that occurs more than once (e.g. migrate_disks) keeps its last value here. */
export type TypedParamRecord = Record<string, TypedParamValue>;

export function fromRemoteTypedParam(p: RemoteTypedParam): TypedParam {
  const v = p.value;
  switch (v.type) {
    case VIR_TYPED_PARAM_INT:
      return { field: p.field, type: 'int', value: v.i };
    case VIR_TYPED_PARAM_UINT:
      return { field: p.field, type: 'uint', value: v.ui };
    case VIR_TYPED_PARAM_LLONG:
      return { field: p.field, type: 'llong', value: v.l };
    case VIR_TYPED_PARAM_ULLONG:
      return { field: p.field, type: 'ullong', value: v.ul };
    case VIR_TYPED_PARAM_DOUBLE:
      return { field: p.field, type: 'double', value: v.d };
    case VIR_TYPED_PARAM_BOOLEAN:
      return { field: p.field, type: 'boolean', value: v.b !== 0 };
    case VIR_TYPED_PARAM_STRING:
      return { field: p.field, type: 'string', value: v.s };
    default:
      throw new LibvirtClientError('PROTOCOL', `typed parameter ${p.field} has unknown type`);
  }
}

export function toRemoteTypedParam(p: TypedParam): RemoteTypedParam {
  switch (p.type) {
    case 'int':
      return { field: p.field, value: { type: VIR_TYPED_PARAM_INT, i: p.value } };
    case 'uint':
      return { field: p.field, value: { type: VIR_TYPED_PARAM_UINT, ui: p.value } };
    case 'llong':
      return {
        field: p.field,
        value: { type: VIR_TYPED_PARAM_LLONG, l: integerArgument(`typed parameter ${p.field}`, p.value) },
      };
    case 'ullong':
      return {
        field: p.field,
        value: { type: VIR_TYPED_PARAM_ULLONG, ul: integerArgument(`typed parameter ${p.field}`, p.value) },
      };
    case 'double':
      return { field: p.field, value: { type: VIR_TYPED_PARAM_DOUBLE, d: p.value } };
    case 'boolean':
      return { field: p.field, value: { type: VIR_TYPED_PARAM_BOOLEAN, b: p.value ? 1 : 0 } };
    case 'string':
      return { field: p.field, value: { type: VIR_TYPED_PARAM_STRING, s: p.value } };
  }
}

export function typedParamsToRecord(params: readonly TypedParam[]): TypedParamRecord {
  const out: TypedParamRecord = {};
  for (const p of params) out[p.field] = p.value;
  return out;
}
