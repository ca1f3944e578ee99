import { describe, expect, it } from 'vitest';
import { parseHeaders } from './c-header-parse.ts';
import { camel, Emitter, pascal } from './ts-emit.ts';
import { parseXdr, procedureAnnotations } from './xdr-parse.ts';

const X = `
%#include "internal.h"
/* a comment */
const MAX_NAME = 16;
typedef string nonnull_string<MAX_NAME>;
typedef nonnull_string *maybe_string;
enum color { RED = 1, GREEN, BLUE = 0x10 };
struct thing {
    maybe_string name;
    opaque uuid[VIR_UUID_BUFLEN];
    unsigned hyper size;
    char model[4];
    int items<8>;
    color c;
};
union value switch (int kind) {
 case 1: int i;
 case 2: case 3: double d;
 case 4: void;
};
enum remote_procedure {
    /**
     * @generate: both
     * @readstream: 1
     */
    REMOTE_PROC_A = 1,
    /** @generate: both */
    REMOTE_PROC_B = 2
};
`;

describe('the .x parser', () => {
  const defs = parseXdr(X);

  it('reads constants, typedefs, enums (implicit values), structs and unions', () => {
    expect(defs.map((d) => d.kind)).toEqual([
      'const',
      'typedef',
      'typedef',
      'enum',
      'struct',
      'union',
      'enum',
    ]);
    const e = defs[3];
    expect(e?.kind === 'enum' && e.members).toEqual([
      { name: 'RED', value: '1' },
      { name: 'GREEN', value: '2' },
      { name: 'BLUE', value: '0x10' },
    ]);
    const s = defs[4];
    expect(s?.kind === 'struct' && s.fields.map((f) => [f.name, f.type, f.card])).toEqual([
      ['name', { kind: 'ref', name: 'maybe_string' }, { kind: 'one' }],
      ['uuid', { kind: 'opaque' }, { kind: 'fixed', size: 'VIR_UUID_BUFLEN' }],
      ['size', { kind: 'prim', name: 'uhyper' }, { kind: 'one' }],
      ['model', { kind: 'prim', name: 'char' }, { kind: 'fixed', size: '4' }],
      ['items', { kind: 'prim', name: 'int' }, { kind: 'var', max: '8' }],
      ['c', { kind: 'ref', name: 'color' }, { kind: 'one' }],
    ]);
    const u = defs[5];
    expect(u?.kind === 'union' && u.arms.map((a) => a.cases)).toEqual([['1'], ['2', '3'], ['4']]);
  });

  it('collects procedure annotations', () => {
    expect(procedureAnnotations(X).get('REMOTE_PROC_A')).toEqual(['generate', 'readstream']);
    expect(procedureAnnotations(X).get('REMOTE_PROC_B')).toEqual(['generate']);
  });

  it('emits types and codecs, resolving header constants', () => {
    const out = new Emitter(defs, new Map([['VIR_UUID_BUFLEN', 16]])).emitDefs().join('\n');
    expect(out).toContain('export type MaybeString = NonnullString | null;');
    expect(out).toContain('export const BLUE = 16;');
    expect(out).toContain('w.opaqueFixed(v.uuid, 16);');
    expect(out).toContain('items: readArray(r, r.arrayLength(8), (r: XdrReader) => r.int()),');
    expect(out).toContain(
      'export type Value = { kind: 1; i: number } | { kind: 2; d: number } | { kind: 3; d: number } | { kind: 4 };',
    );
    expect(out).toContain('return (r.bool() ? decNonnullString(r) : null);');
    expect(out).toContain('name: decMaybeString(r),');
  });

  it('names things the TypeScript way', () => {
    expect(pascal('remote_domain_get_info_ret')).toBe('RemoteDomainGetInfoRet');
    expect(camel('cookie_in')).toBe('cookieIn');
    expect(camel('callbackID')).toBe('callbackID');
  });
});

describe('the C header reader', () => {
  it('evaluates enum members and defines, skips sentinels and macros', () => {
    const h = parseHeaders([
      `# define VIR_UUID_BUFLEN (16)
# define VIR_SECURITY_MODEL_BUFLEN (256 + 1)
# define VIR_MIGRATE_PARAM_URI "migrate_uri"
# define VIR_CPU_MAPLEN(cpu) (((cpu) + 7) / 8)
typedef enum {
    VIR_A = 1 << 0, /* first */
    VIR_B = 1 << 1,
    VIR_C = VIR_A | VIR_B,
    VIR_D,
    VIR_TOP = 1U << 31,
# ifdef VIR_ENUM_SENTINELS
    VIR_X_LAST
# endif
} virX;`,
    ]);
    expect(h.numbers.get('VIR_UUID_BUFLEN')).toBe(16);
    expect(h.numbers.get('VIR_SECURITY_MODEL_BUFLEN')).toBe(257);
    expect(h.strings.get('VIR_MIGRATE_PARAM_URI')).toBe('migrate_uri');
    expect(h.numbers.has('VIR_CPU_MAPLEN')).toBe(false);
    expect(h.enums[0]?.members).toEqual([
      { name: 'VIR_A', value: 1 },
      { name: 'VIR_B', value: 2 },
      { name: 'VIR_C', value: 3 },
      { name: 'VIR_D', value: 4 },
      { name: 'VIR_TOP', value: 2147483648 },
    ]);
  });
});
