import { Alias, Composer, Lexer, LineCounter, Parser, isAlias, isMap, isScalar, isSeq, type Document, type Node as YamlNode } from 'yaml';
import { INVENTORY_LIMITS } from './inventory-limits.ts';

/**
 * Untrusted YAML read the way Ansible reads it (PyYAML's SafeLoader with Ansible's constructor),
 * through the `yaml` package, safely:
 *
 * - No code, no objects: the `yaml` package builds only maps, sequences and scalars, and with
 *   the `failsafe` schema every scalar stays text; we then give plain scalars their YAML 1.1
 *   types exactly as PyYAML does (`yes`/`on` are booleans, `0777` octal, `1:20` sexagesimal, `1e3`
 *   text). Ansible's tags `!unsafe` (text) and `!vault` (an encrypted value, kept opaque) are known;
 *   any other local or Python tag is refused, as PyYAML refuses it.
 * - LOUD: nesting is limited while the text is tokenised (`parser.stack`), before the composer
 *   runs: the composer recurses per level, and a deeply nested document (`[[[[…` or `- - - …`)
 *   exhausted the heap of the whole process in a measurement here (a fatal error, not an exception).
 * - Aliases are expanded by us, counting every node produced: a "billion laughs" document stops at
 *   `INVENTORY_LIMITS.yamlNodes` (413), and so does an alias inside its own anchor.
 * - Duplicate keys are allowed (the last wins, keeping the first one's place, as a Python dict);
 *   the `yaml` package's own check is off because it compares every pair of keys of a map (a
 *   10,000-host map took seconds); callers that refuse duplicates see them in `duplicates`.
 * - `<<` merge keys are applied as PyYAML applies them (explicit keys win over merged ones, and
 *   an earlier merged map over a later one).
 */
export type YNode =
  | { kind: 'map'; line: number; entries: Map<string, { key: YNode; value: YNode }>; duplicates: { key: string; line: number }[] }
  | { kind: 'seq'; line: number; items: YNode[] }
  | { kind: 'scalar'; line: number; value: string | number | boolean | null }
  | { kind: 'opaque'; line: number; what: string };

export class YamlRefusal extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
    readonly tooLarge = false,
  ) {
    super(message);
  }
}

/** The one document of `text` (null when there is none), or a YamlRefusal naming the line. */
export function readYaml(text: string): YNode | null {
  const lines = new LineCounter();
  const lineAt = (offset: number) => lines.linePos(offset).line;
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0); // parse() would say where the first line starts; next() does not
  const tokens = [];
  for (const lexeme of new Lexer().lex(text, false)) {
    for (const token of parser.next(lexeme)) tokens.push(token);
    // The stack holds the document and each collection still open around this token.
    if (parser.stack.length > INVENTORY_LIMITS.yamlDepth + 1) {
      throw new YamlRefusal(`YAML nested deeper than ${INVENTORY_LIMITS.yamlDepth} levels`, lineAt(parser.offset), true);
    }
  }
  for (const token of parser.end()) tokens.push(token);
  const docs: Document.Parsed[] = [...new Composer({ schema: 'failsafe', uniqueKeys: false, prettyErrors: false, strict: true }).compose(tokens)];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) throw new YamlRefusal(error.message.split('\n')[0]!, lineAt(error.pos[0]));
  }
  if (docs.length > 1) throw new YamlRefusal('expected a single document in the stream, but found another document', lineAt(docs[1]!.range[0]));
  const doc = docs[0];
  if (!doc || doc.contents === null) return null;
  return new Materializer(doc, lineAt).node(doc.contents as YamlNode);
}

const YAML_TAG = 'tag:yaml.org,2002:';
/** Depth of the expanded document (aliases inside aliases); the text itself is limited to yamlDepth. */
const MAX_EXPANDED_DEPTH = 256;

class Materializer {
  private produced = 0;
  /** The node each alias names: the last anchor of that name before it in the text. */
  private readonly targets = new Map<Alias, YamlNode>();

  constructor(
    doc: Document.Parsed,
    private readonly lineAt: (offset: number) => number,
  ) {
    const anchors = new Map<string, YamlNode>();
    // Document order; nesting is bounded (yamlDepth), so recursion is safe here.
    const visit = (n: unknown): void => {
      if (isAlias(n)) {
        const target = anchors.get(n.source);
        if (!target) throw new YamlRefusal(`found undefined alias ${n.source}`, this.lineOf(n));
        this.targets.set(n, target);
        return;
      }
      const node = n as YamlNode | null;
      if (!node) return;
      if (node.anchor) anchors.set(node.anchor, node);
      if (isMap(node)) for (const p of node.items) {
        visit(p.key);
        visit(p.value);
      }
      else if (isSeq(node)) for (const item of node.items) visit(item);
    };
    visit(doc.contents);
  }

  private lineOf(n: { range?: [number, number, number] | null | undefined } | null | undefined): number {
    return n?.range ? this.lineAt(n.range[0]) : 1;
  }

  private count(line: number): void {
    if (++this.produced > INVENTORY_LIMITS.yamlNodes) {
      throw new YamlRefusal(`YAML expands to more than ${INVENTORY_LIMITS.yamlNodes} nodes (aliases repeat what they name; a document built to expand is refused)`, line, true);
    }
  }

  node(n: unknown, at = 1, depth = 0): YNode {
    // Aliases can nest what they name inside each other, past the depth of the text itself.
    if (depth > MAX_EXPANDED_DEPTH) throw new YamlRefusal(`YAML nested deeper than ${MAX_EXPANDED_DEPTH} levels once aliases are expanded`, at, true);
    if (n === null || n === undefined) {
      this.count(at);
      return { kind: 'scalar', line: at, value: null }; // `key:` with nothing after it
    }
    if (isAlias(n)) return this.node(this.targets.get(n)!, this.lineOf(n), depth);
    const node = n as YamlNode;
    const line = this.lineOf(node);
    this.count(line);
    const tag = node.tag;
    if (isMap(node)) {
      if (tag && tag !== `${YAML_TAG}map` && tag !== `${YAML_TAG}python/dict`) return this.collectionTag(tag, line);
      return this.mapping(node, line, depth);
    }
    if (isSeq(node)) {
      if (tag && tag !== `${YAML_TAG}seq`) return this.collectionTag(tag, line);
      return { kind: 'seq', line, items: node.items.map((item) => this.node(item, line, depth + 1)) };
    }
    if (isScalar(node)) return this.scalar(node.value, node.type, tag, line);
    throw new YamlRefusal('unexpected YAML node', line);
  }

  private collectionTag(tag: string, line: number): YNode {
    if (tag === `${YAML_TAG}set` || tag === `${YAML_TAG}omap` || tag === `${YAML_TAG}pairs`) return { kind: 'opaque', line, what: tag.slice(YAML_TAG.length) };
    throw new YamlRefusal(`could not determine a constructor for the tag '${tag}'`, line);
  }

  private scalar(value: unknown, type: string | undefined, tag: string | undefined, line: number): YNode {
    const text = typeof value === 'string' ? value : undefined;
    const plain = type === 'PLAIN';
    if (!tag) {
      if (text === undefined) return { kind: 'opaque', line, what: 'binary' };
      return plain ? resolvePlain(text, line) : { kind: 'scalar', line, value: text };
    }
    const short = tag.startsWith(YAML_TAG) ? tag.slice(YAML_TAG.length) : tag;
    switch (short) {
      case 'str':
      case 'python/unicode':
      case '!unsafe':
      case '!':
        return { kind: 'scalar', line, value: text ?? '' };
      case '!vault':
      case '!vault-encrypted':
        return { kind: 'opaque', line, what: 'vault' };
      case 'binary':
      case 'timestamp':
        return { kind: 'opaque', line, what: short };
      case 'null':
        return { kind: 'scalar', line, value: null };
      case 'bool': {
        const b = BOOL_VALUES[(text ?? '').toLowerCase()];
        if (b === undefined) throw new YamlRefusal(`${JSON.stringify(text)} is not a !!bool`, line);
        return { kind: 'scalar', line, value: b };
      }
      case 'int': {
        const v = constructInt(text ?? '');
        if (v === undefined) throw new YamlRefusal(`${JSON.stringify(text)} is not a !!int`, line);
        return { kind: 'scalar', line, value: v };
      }
      case 'float': {
        const v = constructFloat(text ?? '');
        if (v === undefined) throw new YamlRefusal(`${JSON.stringify(text)} is not a !!float`, line);
        return { kind: 'scalar', line, value: v };
      }
      default:
        throw new YamlRefusal(`could not determine a constructor for the tag '${tag}'`, line);
    }
  }

  /** PyYAML's flatten_mapping, then a Python dict's construction over the pairs. */
  private mapping(node: YamlNode, line: number, depth: number): YNode {
    const pairs = this.flatten(node, line, depth);
    const entries = new Map<string, { key: YNode; value: YNode }>();
    const duplicates: { key: string; line: number }[] = [];
    for (const { key, value } of pairs) {
      const id = keyId(key);
      if (entries.has(id)) {
        duplicates.push({ key: id.slice(2), line: key.line });
        entries.get(id)!.value = value; // a Python dict: the first place, the last value
      } else entries.set(id, { key, value });
    }
    return { kind: 'map', line, entries, duplicates };
  }

  private flatten(node: YamlNode, line: number, depth: number): { key: YNode; value: YNode }[] {
    if (depth > MAX_EXPANDED_DEPTH) throw new YamlRefusal(`YAML merges nested deeper than ${MAX_EXPANDED_DEPTH} levels`, line, true);
    const merged: { key: YNode; value: YNode }[] = [];
    const own: { key: YNode; value: YNode }[] = [];
    for (const pair of (node as unknown as { items: { key: unknown; value: unknown }[] }).items) {
      const k = pair.key as YamlNode | null;
      const isMerge = isScalar(k) && ((k.type === 'PLAIN' && !k.tag && k.value === '<<') || k.tag === `${YAML_TAG}merge`);
      if (!isMerge) {
        own.push({ key: this.node(k, line, depth + 1), value: this.node(pair.value, this.lineOf(k), depth + 1) });
        continue;
      }
      const target = isAlias(pair.value) ? this.targets.get(pair.value)! : (pair.value as YamlNode | null);
      const mergeLine = this.lineOf(k);
      if (isMap(target)) merged.push(...this.flatten(target, mergeLine, depth + 1));
      else if (isSeq(target)) {
        const parts = target.items.map((item) => {
          const m = isAlias(item) ? this.targets.get(item)! : (item as YamlNode);
          if (!isMap(m)) throw new YamlRefusal('expected a mapping for merging', mergeLine);
          return this.flatten(m, mergeLine, depth + 1);
        });
        for (const part of parts.reverse()) merged.push(...part);
      } else throw new YamlRefusal('expected a mapping or list of mappings for merging', mergeLine);
    }
    return [...merged, ...own];
  }
}

/** A key as a Python dict compares it: 1, 1.0 and True are one key; a list or map is unhashable. */
function keyId(key: YNode): string {
  if (key.kind === 'scalar') {
    const v = key.value;
    if (v === null) return 'n:';
    if (typeof v === 'string') return `s:${v}`;
    return `v:${Number(v)}`;
  }
  if (key.kind === 'opaque') return `o:${key.what}:${key.line}`;
  throw new YamlRefusal(`found unacceptable key (unhashable type: '${key.kind === 'map' ? 'dict' : 'list'}')`, key.line);
}

const BOOL_VALUES: Record<string, boolean> = { yes: true, no: false, true: true, false: false, on: true, off: false };

// PyYAML's implicit resolvers (yaml/resolver.py), for plain scalars only.
const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const FLOAT = /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const NULL = /^(?:~|null|Null|NULL|)$/;
const TIMESTAMP = /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;

function resolvePlain(text: string, line: number): YNode {
  // PyYAML picks resolvers by the first character; these sets follow its lists.
  const first = text[0] ?? '';
  if ('yYnNtTfFoO'.includes(first) && first !== '' && BOOL.test(text)) return { kind: 'scalar', line, value: BOOL_VALUES[text.toLowerCase()]! };
  if ('-+0123456789.'.includes(first) && first !== '' && FLOAT.test(text)) return { kind: 'scalar', line, value: constructFloat(text)! };
  if ('-+0123456789'.includes(first) && first !== '' && INT.test(text)) {
    const v = constructInt(text);
    if (v === undefined) throw new YamlRefusal(`${JSON.stringify(text)} is not an integer Python can read`, line);
    return { kind: 'scalar', line, value: v };
  }
  if ((first === '~' || first === 'n' || first === 'N' || first === '') && NULL.test(text)) return { kind: 'scalar', line, value: null };
  if ('0123456789'.includes(first) && first !== '' && TIMESTAMP.test(text)) return { kind: 'opaque', line, what: 'timestamp' };
  if (text === '=') throw new YamlRefusal("could not determine a constructor for the tag 'tag:yaml.org,2002:value'", line);
  return { kind: 'scalar', line, value: text };
}

/** PyYAML construct_yaml_int. */
function constructInt(source: string): number | undefined {
  let v = source.replace(/_/g, '');
  let sign = 1;
  if (v[0] === '-') sign = -1;
  if (v[0] === '+' || v[0] === '-') v = v.slice(1);
  const digits = (s: string, re: RegExp, base: number) => (re.test(s) ? sign * parseInt(s, base) : undefined);
  if (v === '0') return 0;
  if (v.startsWith('0b')) return digits(v.slice(2), /^[01]+$/, 2);
  if (v.startsWith('0x')) return digits(v.slice(2), /^[0-9a-fA-F]+$/, 16);
  if (v[0] === '0') return digits(v, /^[0-7]+$/, 8);
  if (v.includes(':')) return sexagesimal(v, sign);
  return digits(v, /^[0-9]+$/, 10);
}

/** PyYAML construct_yaml_float. */
function constructFloat(source: string): number | undefined {
  let v = source.replace(/_/g, '').toLowerCase();
  let sign = 1;
  if (v[0] === '-') sign = -1;
  if (v[0] === '+' || v[0] === '-') v = v.slice(1);
  if (v === '.inf') return sign * Infinity;
  if (v === '.nan') return NaN;
  if (v.includes(':')) return sexagesimal(v, sign, true);
  const n = Number(v);
  return Number.isNaN(n) ? undefined : sign * n;
}

function sexagesimal(v: string, sign: number, float = false): number | undefined {
  const parts = v.split(':');
  let value = 0;
  for (const p of parts) {
    const n = float ? Number(p) : /^[0-9]+$/.test(p) ? Number(p) : NaN;
    if (Number.isNaN(n)) return undefined;
    value = value * 60 + n;
  }
  return sign * value;
}
