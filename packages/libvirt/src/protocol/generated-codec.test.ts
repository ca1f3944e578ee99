import { describe, expect, it } from 'vitest';
import { isXdrError, XdrReader, XdrWriter } from '../xdr/index.ts';
import {
  REMOTE_PROC_CONNECT_OPEN,
  REMOTE_PROC_DOMAIN_MIGRATE_PERFORM3_PARAMS,
} from './remote-procedures.gen.ts';
import {
  decRemoteConnectOpenArgs,
  decRemoteNodeGetInfoRet,
  decRemoteTypedParam,
  encRemoteConnectOpenArgs,
  encRemoteNonnullDomain,
  encRemoteTypedParam,
  REMOTE_PROGRAM,
  type RemoteTypedParam,
} from './remote-types.gen.ts';

const hex = (f: (w: XdrWriter) => void) => {
  const w = new XdrWriter();
  f(w);
  return w.finish().toString('hex');
};
const bytes = (h: string) => Buffer.from(h.replace(/\s/g, ''), 'hex');

describe('code generated from remote_protocol.x', () => {
  it('has libvirt program and procedure numbers', () => {
    expect(REMOTE_PROGRAM).toBe(0x20008086);
    expect(REMOTE_PROC_CONNECT_OPEN).toBe(1);
    expect(REMOTE_PROC_DOMAIN_MIGRATE_PERFORM3_PARAMS).toBe(305);
  });

  it('encodes remote_nonnull_domain as string, 16-byte uuid, int', () => {
    const uuid = bytes('00112233445566778899aabbccddeeff');
    expect(hex((w) => encRemoteNonnullDomain(w, { name: 'vm', uuid, id: 7 }))).toBe(
      '00000002 766d0000 00112233445566778899aabbccddeeff 00000007'.replace(/\s/g, ''),
    );
  });

  it('encodes optional strings (remote_string) as a bool then the value', () => {
    const h = hex((w) => encRemoteConnectOpenArgs(w, { name: 'test:///default', flags: 1 }));
    expect(h).toBe(
      `00000001 0000000f ${Buffer.from('test:///default').toString('hex')}00 00000001`.replace(/\s/g, ''),
    );
    expect(hex((w) => encRemoteConnectOpenArgs(w, { name: null, flags: 0 }))).toBe('0000000000000000');
    expect(decRemoteConnectOpenArgs(new XdrReader(bytes('00000000 00000002')))).toEqual({
      name: null,
      flags: 2,
    });
  });

  it('round-trips every kind of typed parameter through the union', () => {
    const params: [RemoteTypedParam, string][] = [
      [{ field: 'i', value: { type: 1, i: -5 } }, '00000001 69000000 00000001 fffffffb'],
      [{ field: 'u', value: { type: 2, ui: 4000000000 } }, '00000001 75000000 00000002 ee6b2800'],
      [{ field: 'l', value: { type: 3, l: -(2n ** 40n) } }, '00000001 6c000000 00000003 ffffff0000000000'],
      [{ field: 'U', value: { type: 4, ul: 2n ** 63n } }, '00000001 55000000 00000004 8000000000000000'],
      [{ field: 'd', value: { type: 5, d: 0.25 } }, '00000001 64000000 00000005 3fd0000000000000'],
      [{ field: 'b', value: { type: 6, b: 1 } }, '00000001 62000000 00000006 00000001'],
      [{ field: 's', value: { type: 7, s: 'hi' } }, '00000001 73000000 00000007 00000002 68690000'],
    ];
    for (const [p, expected] of params) {
      expect(hex((w) => encRemoteTypedParam(w, p))).toBe(expected.replace(/\s/g, ''));
      const r = new XdrReader(bytes(expected));
      expect(decRemoteTypedParam(r)).toEqual(p);
      r.end();
    }
  });

  it('rejects an unknown typed-parameter discriminant', () => {
    let caught: unknown = null;
    try {
      decRemoteTypedParam(new XdrReader(bytes('00000001 78000000 00000009 00000000')));
    } catch (err) {
      caught = err;
    }
    expect(isXdrError(caught)).toBe(true);
  });

  it('decodes `char model[32]` as 32 XDR ints, like rpcgen', () => {
    const model = [...'x86_64'].map((c) => c.charCodeAt(0));
    const w = new XdrWriter();
    for (let i = 0; i < 32; i++) w.int(model[i] ?? 0);
    w.uhyper(1024n);
    for (const v of [4, 2000, 1, 1, 4, 1]) w.int(v);
    const r = new XdrReader(w.finish());
    const info = decRemoteNodeGetInfoRet(r);
    r.end();
    expect(info.model.slice(0, 6)).toEqual(model);
    expect(info.memory).toBe(1024n);
    expect(info.mhz).toBe(2000);
  });
});
