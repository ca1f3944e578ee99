// Parser for the subset of the XDR/RPC language (RFC 4506 section 6, rpcgen's dialect) that libvirt's
// .x files use: const, enum, struct, union, typedef, fixed/variable arrays, optional pointers, opaque,
// string, char/short (encoded as 4-byte ints, as rpcgen does).

export type BaseType =
  | { kind: 'prim'; name: PrimName }
  | { kind: 'string' }
  | { kind: 'opaque' }
  | { kind: 'void' }
  | { kind: 'ref'; name: string };

export type PrimName =
  | 'int'
  | 'uint'
  | 'hyper'
  | 'uhyper'
  | 'float'
  | 'double'
  | 'bool'
  | 'char'
  | 'uchar'
  | 'short'
  | 'ushort';

export type Card =
  | { kind: 'one' }
  | { kind: 'optional' }
  | { kind: 'fixed'; size: string }
  | { kind: 'var'; max: string | null };

export interface Decl {
  name: string;
  type: BaseType;
  card: Card;
}

export type Def =
  | { kind: 'const'; name: string; value: string }
  | { kind: 'typedef'; decl: Decl }
  | { kind: 'enum'; name: string; members: { name: string; value: string }[] }
  | { kind: 'struct'; name: string; fields: Decl[] }
  | {
      kind: 'union';
      name: string;
      disc: Decl;
      arms: { cases: string[]; decl: Decl }[];
      defaultArm: Decl | null;
    };

function tokenize(src: string): string[] {
  const text = src
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ')
    .replace(/^%[^\n]*$/gm, ' ');
  const tokens = text.match(/-?0x[0-9a-fA-F]+|-?\d+|[A-Za-z_][A-Za-z0-9_]*|[{}[\]<>();,:=*]/g);
  return tokens ?? [];
}

class Parser {
  private i = 0;
  constructor(private readonly toks: string[]) {}

  private peek(): string | undefined {
    return this.toks[this.i];
  }

  private next(): string {
    const t = this.toks[this.i++];
    if (t === undefined) throw new Error('unexpected end of .x input');
    return t;
  }

  private expect(t: string): void {
    const got = this.next();
    if (got !== t) throw new Error(`expected '${t}' but got '${got}' near token ${this.i}`);
  }

  parseAll(): Def[] {
    const defs: Def[] = [];
    while (this.peek() !== undefined) defs.push(this.parseDef());
    return defs;
  }

  private parseDef(): Def {
    const kw = this.next();
    switch (kw) {
      case 'const': {
        const name = this.next();
        this.expect('=');
        const value = this.next();
        this.expect(';');
        return { kind: 'const', name, value };
      }
      case 'typedef': {
        const decl = this.parseDecl();
        this.expect(';');
        return { kind: 'typedef', decl };
      }
      case 'enum': {
        const name = this.next();
        const members = this.parseEnumBody();
        this.expect(';');
        return { kind: 'enum', name, members };
      }
      case 'struct': {
        const name = this.next();
        this.expect('{');
        const fields: Decl[] = [];
        while (this.peek() !== '}') {
          fields.push(this.parseDecl());
          this.expect(';');
        }
        this.expect('}');
        this.expect(';');
        return { kind: 'struct', name, fields };
      }
      case 'union': {
        const name = this.next();
        this.expect('switch');
        this.expect('(');
        const disc = this.parseDecl();
        this.expect(')');
        this.expect('{');
        const arms: { cases: string[]; decl: Decl }[] = [];
        let defaultArm: Decl | null = null;
        while (this.peek() !== '}') {
          const t = this.next();
          if (t === 'default') {
            this.expect(':');
            defaultArm = this.parseDecl();
            this.expect(';');
            continue;
          }
          if (t !== 'case') throw new Error(`expected case in union ${name}, got ${t}`);
          const cases = [this.next()];
          this.expect(':');
          // Fall-through labels: `case A: case B: decl;`
          while (this.peek() === 'case') {
            this.next();
            cases.push(this.next());
            this.expect(':');
          }
          const decl = this.parseDecl();
          this.expect(';');
          arms.push({ cases, decl });
        }
        this.expect('}');
        this.expect(';');
        return { kind: 'union', name, disc, arms, defaultArm };
      }
      default:
        throw new Error(`unexpected token '${kw}' at top level`);
    }
  }

  private parseEnumBody(): { name: string; value: string }[] {
    this.expect('{');
    const members: { name: string; value: string }[] = [];
    let prev = -1;
    while (this.peek() !== '}') {
      const name = this.next();
      let value: string;
      if (this.peek() === '=') {
        this.next();
        value = this.next();
      } else {
        value = String(prev + 1);
      }
      prev = Number(value);
      members.push({ name, value });
      if (this.peek() === ',') this.next();
    }
    this.expect('}');
    return members;
  }

  private parseType(): BaseType {
    const t = this.next();
    switch (t) {
      case 'void':
        return { kind: 'void' };
      case 'string':
        return { kind: 'string' };
      case 'opaque':
        return { kind: 'opaque' };
      case 'int':
      case 'hyper':
      case 'float':
      case 'double':
      case 'bool':
      case 'char':
      case 'short':
        return { kind: 'prim', name: t };
      case 'unsigned': {
        const n = this.peek();
        if (n === 'int' || n === 'hyper' || n === 'char' || n === 'short') {
          this.next();
          return { kind: 'prim', name: `u${n}` as PrimName };
        }
        return { kind: 'prim', name: 'uint' };
      }
      case 'struct':
      case 'enum':
      case 'union':
        return { kind: 'ref', name: this.next() };
      default:
        return { kind: 'ref', name: t };
    }
  }

  private parseDecl(): Decl {
    const type = this.parseType();
    if (type.kind === 'void') return { name: '', type, card: { kind: 'one' } };
    if (this.peek() === '*') {
      this.next();
      return { name: this.next(), type, card: { kind: 'optional' } };
    }
    const name = this.next();
    if (this.peek() === '[') {
      this.next();
      const size = this.next();
      this.expect(']');
      return { name, type, card: { kind: 'fixed', size } };
    }
    if (this.peek() === '<') {
      this.next();
      let max: string | null = null;
      if (this.peek() !== '>') max = this.next();
      this.expect('>');
      return { name, type, card: { kind: 'var', max } };
    }
    return { name, type, card: { kind: 'one' } };
  }
}

export function parseXdr(src: string): Def[] {
  return new Parser(tokenize(src)).parseAll();
}

/** The comment block before each `REMOTE_PROC_X = n` carries annotations such as `@readstream: 1`. */
export function procedureAnnotations(src: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const re = /\/\*\*([\s\S]*?)\*\/\s*([A-Z0-9_]+)\s*=\s*\d+/g;
  for (const m of src.matchAll(re)) {
    const body = m[1] ?? '';
    const name = m[2] ?? '';
    out.set(
      name,
      [...body.matchAll(/@(\w+)/g)].map((a) => a[1] ?? ''),
    );
  }
  return out;
}
