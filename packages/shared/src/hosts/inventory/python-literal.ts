/**
 * Python's `ast.literal_eval` on the text of one INI inventory value, as Ansible's INI plugin
 * applies it (`InventoryModule._parse_value`): a value that is a Python literal becomes that value
 * (`2222` a number, `'ops'` the string ops, `True` a boolean, `[1, 2]` a list), anything else
 * (`10.0.0.1`, `deploy`, `0777`, `f"x"`) stays the text as written. So `ansible_port=2222` is the
 * number 2222 and `ansible_port="2222"` on a host line too (shlex took the quotes), as Ansible has it.
 *
 * Only what a literal may be is accepted: numbers (with `_`, `0x`/`0o`/`0b`, floats and exponents),
 * strings (quotes, triple quotes, prefixes r/u/b, adjacent strings joined), True/False/None,
 * lists, tuples, sets and dicts of those, a sign before a number, and comments (`22 # ssh`).
 * Complex numbers, `...` and `set()` are literals too but have no JSON form: they come back as
 * `Opaque` values, which no host field accepts.
 */

export class Opaque {
  constructor(readonly what: string) {}
  toJSON() {
    return { opaque: this.what };
  }
}

export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue } | Opaque;

const FAIL = Symbol('not a literal');
type Result = PyValue | typeof FAIL;

/** The literal's value, or the text itself when it is not a Python literal (as Ansible keeps it). */
export function parseIniValue(text: string): PyValue {
  const value = literalEval(text);
  return value === FAIL ? text : value;
}

/** Python's own limit on nested brackets (the tokenizer's MAXLEVEL); deeper is a SyntaxError there. */
const MAX_NESTING = 200;

type Tok =
  | { t: 'num'; v: number | Opaque }
  | { t: 'str'; v: string; bytes: boolean }
  | { t: 'name'; v: string }
  | { t: 'op'; v: string }
  | { t: 'end' };

function literalEval(source: string): Result {
  // literal_eval strips leading spaces and tabs only; the rest must be one expression.
  const tokens = tokenize(source.replace(/^[ \t]+/, ''));
  if (!tokens) return FAIL;
  let i = 0;
  const peek = () => tokens[i]!;
  const take = () => tokens[i++]!;
  const isOp = (v: string) => {
    const tok = peek();
    return tok.t === 'op' && tok.v === v;
  };

  function atom(depth: number): Result {
    if (depth > MAX_NESTING) return FAIL;
    const tok = take();
    switch (tok.t) {
      case 'num':
        return tok.v;
      case 'str': {
        // Adjacent strings are one literal; bytes and text cannot be mixed.
        let text = tok.v;
        while (peek().t === 'str') {
          const next = take() as Extract<Tok, { t: 'str' }>;
          if (next.bytes !== tok.bytes) return FAIL;
          text += next.v;
        }
        return text;
      }
      case 'name':
        if (tok.v === 'True') return true;
        if (tok.v === 'False') return false;
        if (tok.v === 'None') return null;
        if (tok.v === 'set' && isOp('(')) {
          take();
          if (!isOp(')')) return FAIL;
          take();
          return new Opaque('set');
        }
        return FAIL;
      case 'op':
        if (tok.v === '-' || tok.v === '+') {
          // literal_eval takes a sign only directly before a number.
          const operand = take();
          if (operand.t !== 'num') return FAIL;
          if (operand.v instanceof Opaque) return operand.v;
          return tok.v === '-' ? -operand.v : operand.v;
        }
        if (tok.v === '...') return new Opaque('Ellipsis');
        if (tok.v === '[') return sequence(']', depth);
        if (tok.v === '(') {
          if (isOp(')')) {
            take();
            return [];
          }
          const first = expression(depth + 1);
          if (first === FAIL) return FAIL;
          if (isOp(')')) {
            take();
            return first;
          }
          if (!isOp(',')) return FAIL;
          take();
          const rest = sequence(')', depth);
          return rest === FAIL ? FAIL : [first, ...(rest as PyValue[])];
        }
        if (tok.v === '{') return braces(depth);
        return FAIL;
      default:
        return FAIL;
    }
  }

  /** An atom, and `a + bj` / `a - bj` (a complex number: literal, but nothing JSON can hold). */
  function expression(depth: number): Result {
    const value = atom(depth);
    if (value === FAIL) return FAIL;
    if (isOp('+') || isOp('-')) {
      take();
      const right = atom(depth);
      if (right instanceof Opaque && right.what === 'complex' && (typeof value === 'number' || value instanceof Opaque)) return new Opaque('complex');
      return FAIL;
    }
    return value;
  }

  /** Items up to `close`, separated by commas, a trailing comma allowed. */
  function sequence(close: string, depth: number): Result {
    const items: PyValue[] = [];
    while (!isOp(close)) {
      const item = expression(depth + 1);
      if (item === FAIL) return FAIL;
      items.push(item);
      if (isOp(',')) take();
      else if (!isOp(close)) return FAIL;
    }
    take();
    return items;
  }

  function braces(depth: number): Result {
    if (isOp('}')) {
      take();
      return {};
    }
    const dict: Record<string, PyValue> = {};
    for (let first = true; ; first = false) {
      const key = expression(depth + 1);
      if (key === FAIL) return FAIL;
      if (first && !isOp(':')) return setRest(depth);
      if (!isOp(':')) return FAIL;
      take();
      if (key !== null && typeof key === 'object' && !(key instanceof Opaque)) return FAIL; // unhashable
      const value = expression(depth + 1);
      if (value === FAIL) return FAIL;
      dict[String(key)] = value;
      if (isOp(',')) {
        take();
        if (isOp('}')) break;
        continue;
      }
      if (isOp('}')) break;
      return FAIL;
    }
    take();
    return dict;
  }

  /** `{1, 2}` after its first item: a set. */
  function setRest(depth: number): Result {
    while (isOp(',')) {
      take();
      if (isOp('}')) break;
      if (expression(depth + 1) === FAIL) return FAIL;
    }
    if (!isOp('}')) return FAIL;
    take();
    return new Opaque('set');
  }

  let value = expression(0);
  if (value === FAIL) return FAIL;
  // `1, 2` at the top is a tuple in eval mode.
  if (isOp(',')) {
    const items: PyValue[] = [value];
    while (isOp(',')) {
      take();
      if (peek().t === 'end') break;
      const item = expression(1);
      if (item === FAIL) return FAIL;
      items.push(item);
    }
    value = items;
  }
  return peek().t === 'end' ? value : FAIL;
}

const NAME_START = /[A-Za-z_\p{L}]/u;
const NAME_CHAR = /[A-Za-z0-9_\p{L}\p{N}]/u;
const DEC = '[0-9](?:_?[0-9])*';
const NUMBER = new RegExp(
  [
    '0[xX](?:_?[0-9a-fA-F])+',
    '0[oO](?:_?[0-7])+',
    '0[bB](?:_?[01])+',
    // floats and imaginary numbers before plain integers
    `(?:${DEC}\\.(?:${DEC})?|\\.${DEC})(?:[eE][-+]?${DEC})?[jJ]?`,
    `${DEC}[eE][-+]?${DEC}[jJ]?`,
    `${DEC}[jJ]`,
    '[1-9](?:_?[0-9])*',
    '0+(?:_?0)*',
  ]
    .map((p) => `(?:${p})`)
    .join('|'),
  'y',
);
const OPS = ['...', '[', ']', '(', ')', '{', '}', ',', ':', '+', '-'];

function tokenize(src: string): Tok[] | undefined {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\f') {
      i++;
      continue;
    }
    if (c === '#') break; // a comment runs to the end (the text is one line)
    if (c === '\\' || c === '\n' || c === '\r' || c === '\0') return undefined;
    NUMBER.lastIndex = i;
    const num = NUMBER.exec(src);
    if (num && !(c === '.' && src.startsWith('...', i))) {
      const text = num[0];
      const next = src[i + text.length];
      // `1if`, `0x1g`, `07` (a leading zero): not one number token Python accepts.
      if (next !== undefined && NAME_CHAR.test(next)) return undefined;
      i += text.length;
      const clean = text.replace(/_/g, '');
      if (/[jJ]$/.test(clean)) out.push({ t: 'num', v: new Opaque('complex') });
      else if (/^0[xX]/.test(clean)) out.push({ t: 'num', v: parseInt(clean.slice(2), 16) });
      else if (/^0[oO]/.test(clean)) out.push({ t: 'num', v: parseInt(clean.slice(2), 8) });
      else if (/^0[bB]/.test(clean)) out.push({ t: 'num', v: parseInt(clean.slice(2), 2) });
      else out.push({ t: 'num', v: Number(clean) });
      continue;
    }
    if (/[0-9]/.test(c)) return undefined; // e.g. 0777: Python refuses leading zeros
    if (NAME_START.test(c)) {
      let j = i + 1;
      while (j < src.length && NAME_CHAR.test(src[j]!)) j++;
      const word = src.slice(i, j);
      const quote = src[j];
      if ((quote === '"' || quote === "'") && /^(?:[rRuUbB]|[rR][bB]|[bB][rR])$/.test(word)) {
        const s = readString(src, j, /[rR]/.test(word), /[bB]/.test(word));
        if (!s) return undefined;
        out.push({ t: 'str', v: s.value, bytes: /[bB]/.test(word) });
        i = s.end;
        continue;
      }
      if (quote === '"' || quote === "'") return undefined; // f-strings and unknown prefixes
      out.push({ t: 'name', v: word });
      i = j;
      continue;
    }
    if (c === '"' || c === "'") {
      const s = readString(src, i, false, false);
      if (!s) return undefined;
      out.push({ t: 'str', v: s.value, bytes: false });
      i = s.end;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) return undefined;
    out.push({ t: 'op', v: op });
    i += op.length;
  }
  out.push({ t: 'end' });
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** One Python string literal starting at `start` (its opening quote). */
function readString(src: string, start: number, raw: boolean, bytes: boolean): { value: string; end: number } | undefined {
  const q = src[start]!;
  const triple = src.startsWith(q.repeat(3), start);
  const close = triple ? q.repeat(3) : q;
  let i = start + close.length;
  let value = '';
  for (;;) {
    if (i >= src.length) return undefined;
    if (src.startsWith(close, i)) return { value, end: i + close.length };
    const c = src[i]!;
    if (bytes && c.charCodeAt(0) > 0x7f) return undefined; // bytes literals are ASCII only
    if (c !== '\\') {
      value += c;
      i++;
      continue;
    }
    const n = src[i + 1];
    if (n === undefined) return undefined;
    if (raw) {
      value += c + n;
      i += 2;
      continue;
    }
    if (n in SIMPLE_ESCAPES) {
      value += SIMPLE_ESCAPES[n];
      i += 2;
    } else if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(src.slice(i + 1))![0];
      value += String.fromCodePoint(parseInt(m, 8));
      i += 1 + m.length;
    } else if (n === 'x') {
      const m = /^[0-9a-fA-F]{2}/.exec(src.slice(i + 2));
      if (!m) return undefined;
      value += String.fromCodePoint(parseInt(m[0], 16));
      i += 4;
    } else if (!bytes && (n === 'u' || n === 'U')) {
      const len = n === 'u' ? 4 : 8;
      const m = new RegExp(`^[0-9a-fA-F]{${len}}`).exec(src.slice(i + 2));
      if (!m) return undefined;
      const cp = parseInt(m[0], 16);
      if (cp > 0x10ffff) return undefined;
      value += String.fromCodePoint(cp);
      i += 2 + len;
    } else if (!bytes && n === 'N') {
      return undefined; // \N{name}: a Unicode name table is not worth carrying; the text is kept as written
    } else {
      value += c + n; // an unknown escape keeps its backslash
      i += 2;
    }
  }
}
