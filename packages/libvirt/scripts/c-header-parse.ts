// Reads integer and string constants out of libvirt's public C headers: `typedef enum {...} name;`
// members and simple `# define NAME value` lines. Enough for flags, states, event ids, error codes and
// typed-parameter field names; function-like macros and anything not a plain constant are skipped.

export interface HeaderEnum {
  name: string;
  members: { name: string; value: number }[];
}

export interface HeaderConstants {
  enums: HeaderEnum[];
  numbers: Map<string, number>;
  strings: Map<string, string>;
}

function evalInt(expr: string, known: Map<string, number>): number | null {
  let e = expr.trim().replace(/\b(0x[0-9a-fA-F]+|\d+)(?:ULL|LL|UL|U|L)\b/g, '$1');
  let unknown = false;
  e = e.replace(/\b[A-Za-z_][A-Za-z0-9_]*\b/g, (id) => {
    const v = known.get(id);
    if (v === undefined) {
      unknown = true;
      return '0';
    }
    return `(${v})`;
  });
  if (unknown || e === '' || !/^[0-9a-fA-Fx\s()+\-*/|&<>~]+$/.test(e)) return null;
  // The expression is only digits and operators at this point; evaluating it is safe.
  const v = Function(`"use strict"; return (${e});`)() as unknown;
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  // C's `1U << 31` is unsigned; JS shifts are signed 32-bit.
  return e.includes('<<') && v < 0 ? v >>> 0 : v;
}

export function parseHeaders(sources: string[], seed: Map<string, number> = new Map()): HeaderConstants {
  const numbers = new Map(seed);
  const strings = new Map<string, string>();
  const enums: HeaderEnum[] = [];
  for (const raw of sources) {
    const src = raw.replace(/\/\*[\s\S]*?\*\//g, ' ');
    // Defines first in document order interleaved with enums would be ideal; two passes settle most
    // cross-references (defines referring to enum members and the reverse).
    for (let pass = 0; pass < 2; pass++) {
      for (const m of src.matchAll(/^#\s*define\s+([A-Z_][A-Z0-9_]*)[ \t]+([^\n]+)$/gm)) {
        const name = m[1] ?? '';
        const value = (m[2] ?? '').trim();
        const str = /^"([^"\\]*)"$/.exec(value);
        if (str) strings.set(name, str[1] ?? '');
        else {
          const n = evalInt(value, numbers);
          if (n !== null) numbers.set(name, n);
        }
      }
      for (const m of src.matchAll(/typedef\s+enum\s*\w*\s*\{([\s\S]*?)\}\s*(\w+)\s*;/g)) {
        const body = (m[1] ?? '').replace(/^\s*#[^\n]*$/gm, ' ');
        const members: { name: string; value: number }[] = [];
        let prev = -1;
        let ok = true;
        for (const part of body.split(',')) {
          const p = part.trim();
          if (p === '') continue;
          const [name = '', expr] = p.split('=').map((s) => s.trim());
          // Sentinels exist only under VIR_ENUM_SENTINELS; they are not part of the ABI.
          if (name.endsWith('_LAST')) continue;
          const v = expr === undefined ? prev + 1 : evalInt(expr, numbers);
          if (v === null) {
            ok = false;
            continue;
          }
          prev = v;
          numbers.set(name, v);
          members.push({ name, value: v });
        }
        if (pass === 1 && (ok || members.length > 0)) enums.push({ name: m[2] ?? '', members });
      }
    }
  }
  return { enums, numbers, strings };
}
