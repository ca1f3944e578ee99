// Turns parsed XDR definitions into TypeScript: a type, an encoder `encX(w, v)` and a decoder `decX(r)`
// per named type. Straight-line code, no reflection: this is the hot path of every call.
import type { BaseType, Card, Decl, Def } from './xdr-parse.ts';

export function pascal(name: string): string {
  return name
    .split('_')
    .filter((p) => p !== '')
    .map((p) => (p[0] ?? '').toUpperCase() + p.slice(1))
    .join('');
}

export function camel(name: string): string {
  const p = pascal(name);
  return (p[0] ?? '').toLowerCase() + p.slice(1);
}

export class Emitter {
  readonly consts = new Map<string, number>();
  private readonly kinds = new Map<string, Def['kind']>();

  constructor(
    readonly defs: Def[],
    external: Map<string, number>,
    /** Named types defined in another generated module (name → module kind). */
    foreign: Map<string, Def['kind']> = new Map(),
  ) {
    for (const [k, v] of external) this.consts.set(k, v);
    for (const [k, v] of foreign) this.kinds.set(k, v);
    for (const d of defs) {
      if (d.kind === 'const') this.consts.set(d.name, this.num(d.value));
      if (d.kind === 'enum') {
        this.kinds.set(d.name, 'enum');
        for (const m of d.members) this.consts.set(m.name, this.num(m.value));
      }
      if (d.kind === 'struct' || d.kind === 'union') this.kinds.set(d.name, d.kind);
      if (d.kind === 'typedef') this.kinds.set(d.decl.name, 'typedef');
    }
  }

  num(v: string): number {
    if (/^-?(0x[0-9a-fA-F]+|\d+)$/.test(v)) return Number(v);
    const c = this.consts.get(v);
    if (c === undefined) throw new Error(`unknown constant ${v}`);
    return c;
  }

  typeName(name: string): string {
    return pascal(name);
  }

  private baseTs(t: BaseType): string {
    switch (t.kind) {
      case 'prim':
        if (t.name === 'hyper' || t.name === 'uhyper') return 'bigint';
        if (t.name === 'bool') return 'boolean';
        return 'number';
      case 'string':
        return 'string';
      case 'opaque':
        return 'Uint8Array';
      case 'void':
        return 'void';
      case 'ref':
        if (this.kinds.get(t.name) === 'enum') return 'number';
        return this.typeName(t.name);
    }
  }

  tsType(d: Decl): string {
    const base = this.baseTs(d.type);
    switch (d.card.kind) {
      case 'one':
        return base;
      case 'optional':
        return `${base} | null`;
      case 'fixed':
      case 'var':
        if (d.type.kind === 'opaque' || d.type.kind === 'string') return base;
        return `${base}[]`;
    }
  }

  private max(card: Card & { kind: 'var' }): number {
    return card.max === null ? 0xffffffff : this.num(card.max);
  }

  private encBase(t: BaseType, v: string): string {
    switch (t.kind) {
      case 'prim':
        switch (t.name) {
          case 'int':
          case 'char':
          case 'short':
            return `w.int(${v});`;
          case 'uint':
          case 'uchar':
          case 'ushort':
            return `w.uint(${v});`;
          default:
            return `w.${t.name}(${v});`;
        }
      case 'ref':
        if (this.kinds.get(t.name) === 'enum') return `w.int(${v});`;
        return `enc${this.typeName(t.name)}(w, ${v});`;
      default:
        throw new Error(`cannot encode bare ${t.kind}`);
    }
  }

  encStmt(d: Decl, v: string, depth: number): string {
    const { type, card } = d;
    switch (card.kind) {
      case 'one':
        if (type.kind === 'string') return `w.string(${v}, 0xffffffff);`;
        return this.encBase(type, v);
      case 'optional':
        return `if (${v} === null) { w.uint(0); } else { w.uint(1); ${this.encStmt({ ...d, card: { kind: 'one' } }, v, depth)} }`;
      case 'fixed': {
        const n = this.num(card.size);
        if (type.kind === 'opaque') return `w.opaqueFixed(${v}, ${n});`;
        const x = `x${depth}`;
        return `checkFixedLength(${v}.length, ${n}); for (const ${x} of ${v}) { ${this.encBase(type, x)} }`;
      }
      case 'var': {
        const max = this.max(card);
        if (type.kind === 'opaque') return `w.opaqueVar(${v}, ${max});`;
        if (type.kind === 'string') return `w.string(${v}, ${max});`;
        const x = `x${depth}`;
        return `w.arrayLength(${v}.length, ${max}); for (const ${x} of ${v}) { ${this.encBase(type, x)} }`;
      }
    }
  }

  private decBase(t: BaseType): string {
    switch (t.kind) {
      case 'prim':
        switch (t.name) {
          case 'int':
          case 'char':
          case 'short':
            return 'r.int()';
          case 'uint':
          case 'uchar':
          case 'ushort':
            return 'r.uint()';
          default:
            return `r.${t.name}()`;
        }
      case 'ref':
        if (this.kinds.get(t.name) === 'enum') return 'r.int()';
        return `dec${this.typeName(t.name)}(r)`;
      default:
        throw new Error(`cannot decode bare ${t.kind}`);
    }
  }

  private itemFn(t: BaseType): string {
    if (t.kind === 'ref' && this.kinds.get(t.name) !== 'enum') return `dec${this.typeName(t.name)}`;
    return `(r: XdrReader) => ${this.decBase(t)}`;
  }

  decExpr(d: Decl): string {
    const { type, card } = d;
    switch (card.kind) {
      case 'one':
        if (type.kind === 'string') return 'r.string(0xffffffff)';
        return this.decBase(type);
      case 'optional':
        return `(r.bool() ? ${this.decExpr({ ...d, card: { kind: 'one' } })} : null)`;
      case 'fixed': {
        const n = this.num(card.size);
        if (type.kind === 'opaque') return `r.opaqueFixed(${n})`;
        return `readArray(r, ${n}, ${this.itemFn(type)})`;
      }
      case 'var': {
        const max = this.max(card);
        if (type.kind === 'opaque') return `r.opaqueVar(${max})`;
        if (type.kind === 'string') return `r.string(${max})`;
        return `readArray(r, r.arrayLength(${max}), ${this.itemFn(type)})`;
      }
    }
  }

  /** Constants, enum members and types + codecs for every definition, in source order. */
  emitDefs(): string[] {
    const out: string[] = [];
    for (const d of this.defs) {
      switch (d.kind) {
        case 'const':
          // Constants defined by a C header name (e.g. VIR_UUID_BUFLEN) are resolved to their value.
          out.push(
            /^-?(0x[0-9a-fA-F]+|\d+)$/.test(d.value)
              ? `export const ${d.name} = ${d.value};`
              : `export const ${d.name} = ${this.num(d.value)}; // ${d.value}`,
          );
          break;
        case 'enum':
          out.push(`/** enum ${d.name} */`);
          for (const m of d.members) out.push(`export const ${m.name} = ${this.num(m.value)};`);
          break;
        case 'typedef': {
          const n = this.typeName(d.decl.name);
          out.push(`export type ${n} = ${this.tsType(d.decl)};`);
          out.push(
            `export function enc${n}(w: XdrWriter, v: ${n}): void { ${this.encStmt(d.decl, 'v', 0)} }`,
          );
          out.push(`export function dec${n}(r: XdrReader): ${n} { return ${this.decExpr(d.decl)}; }`);
          break;
        }
        case 'struct':
          out.push(...this.emitStruct(d.name, d.fields));
          break;
        case 'union':
          out.push(...this.emitUnion(d));
          break;
      }
    }
    return out;
  }

  private emitStruct(name: string, fields: Decl[]): string[] {
    const n = this.typeName(name);
    const lines = [`export interface ${n} {`];
    for (const f of fields) lines.push(`  ${camel(f.name)}: ${this.tsType(f)};`);
    lines.push('}');
    lines.push(`export function enc${n}(w: XdrWriter, v: ${n}): void {`);
    for (const f of fields) lines.push(`  ${this.encStmt(f, `v.${camel(f.name)}`, 0)}`);
    lines.push('}');
    lines.push(`export function dec${n}(r: XdrReader): ${n} {`);
    lines.push('  return {');
    for (const f of fields) lines.push(`    ${camel(f.name)}: ${this.decExpr(f)},`);
    lines.push('  };');
    lines.push('}');
    return lines;
  }

  private emitUnion(d: Def & { kind: 'union' }): string[] {
    const n = this.typeName(d.name);
    const disc = camel(d.disc.name);
    const variants: string[] = [];
    const enc: string[] = [];
    const dec: string[] = [];
    for (const arm of d.arms) {
      const vals = arm.cases.map((c) => this.num(c));
      const field = arm.decl.type.kind === 'void' ? null : camel(arm.decl.name);
      for (const v of vals) {
        variants.push(
          field === null ? `{ ${disc}: ${v} }` : `{ ${disc}: ${v}; ${field}: ${this.tsType(arm.decl)} }`,
        );
      }
      const labels = vals.map((v) => `case ${v}:`).join(' ');
      enc.push(`    ${labels} ${field === null ? '' : this.encStmt(arm.decl, `v.${field}`, 0)} return;`);
      for (const v of vals) {
        dec.push(
          `    case ${v}: return ${field === null ? `{ ${disc}: ${v} }` : `{ ${disc}: ${v}, ${field}: ${this.decExpr(arm.decl)} }`};`,
        );
      }
    }
    if (d.defaultArm !== null) {
      throw new Error(`union ${d.name}: default arms are not used by libvirt and not supported`);
    }
    return [
      `export type ${n} = ${variants.join(' | ')};`,
      `export function enc${n}(w: XdrWriter, v: ${n}): void {`,
      `  w.int(v.${disc});`,
      `  switch (v.${disc}) {`,
      ...enc,
      `    default: throw new XdrError(\`${d.name}: bad discriminant \${(v as { ${disc}: number }).${disc}}\`);`,
      '  }',
      '}',
      `export function dec${n}(r: XdrReader): ${n} {`,
      `  const t = r.int();`,
      '  switch (t) {',
      ...dec,
      `    default: throw new XdrError(\`${d.name}: bad discriminant \${t}\`);`,
      '  }',
      '}',
    ];
  }
}
