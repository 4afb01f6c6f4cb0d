/**
 * Label selectors in the Kubernetes syntax operators already know (k8s.io/apimachinery
 * pkg/labels/selector.go): `env=prod,role in (web,api),!canary,tier!=db`. Requirements are
 * ANDed; an empty selector matches everything.
 *
 * | written              | matches a label set that…                                   |
 * |----------------------|-------------------------------------------------------------|
 * | `k=v`, `k==v`        | has k with value v                                          |
 * | `k!=v`               | has no k, or k with another value (Kubernetes: absent too)  |
 * | `k in (a,b)`         | has k with value a or b                                     |
 * | `k notin (a,b)`      | has no k, or k with a value outside the list               |
 * | `k`                  | has k                                                       |
 * | `!k`                 | has no k                                                    |
 *
 * Keys follow our label rule (domain/labels.ts: 1–63 of `[A-Za-z0-9_./-]`, starting alphanumeric),
 * which every Kubernetes-style `prefix/name` key of that length also meets: a key our labels cannot
 * carry could never match, so it is refused rather than silently matching nothing. Values follow
 * Kubernetes: at most 63 characters, empty or alphanumeric at both ends with `-`, `_`, `.` between.
 * Not supported (the issue does not ask for them): Kubernetes' numeric `>` and `<`.
 */

export type SelectorOperator = '=' | '!=' | 'in' | 'notin' | 'exists' | '!';

export interface Requirement {
  key: string;
  operator: SelectorOperator;
  /** One value for `=`/`!=`, the (deduplicated, sorted) list for `in`/`notin`, none otherwise. */
  values: string[];
}

export type LabelSelector = Requirement[];

/** What the parser refuses: where (0-based index into the selector) and what it wanted there. */
export class LabelSelectorError extends Error {
  override readonly name = 'LabelSelectorError';
  constructor(
    readonly position: number,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`at position ${position}: expected ${expected}, found ${found}`);
  }
}

export const SELECTOR_KEY = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
export const SELECTOR_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;

type TokenKind = 'id' | 'in' | 'notin' | '=' | '==' | '!=' | '!' | '(' | ')' | ',' | '<' | '>' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
}

const SPACE = new Set([' ', '\t', '\r', '\n']);
const SPECIAL = new Set(['!', '=', ',', '(', ')', '<', '>']);

/** Kubernetes' lexer: the longest operator, and any run of other non-space characters is an identifier. */
export function lexSelector(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (SPACE.has(ch)) {
      i++;
      continue;
    }
    if (SPECIAL.has(ch)) {
      const two = input.slice(i, i + 2);
      const kind: TokenKind = two === '==' || two === '!=' ? two : (ch as TokenKind);
      const text = kind.length === 2 ? two : ch;
      tokens.push({ kind, text, pos: i });
      i += text.length;
      continue;
    }
    const start = i;
    while (i < input.length && !SPACE.has(input[i]!) && !SPECIAL.has(input[i]!)) i++;
    const text = input.slice(start, i);
    tokens.push({ kind: text === 'in' || text === 'notin' ? text : 'id', text, pos: start });
  }
  tokens.push({ kind: 'end', text: '', pos: input.length });
  return tokens;
}

const shown = (t: Token) => (t.kind === 'end' ? 'the end' : JSON.stringify(t.text));

/** Parse a selector; throws LabelSelectorError with the position of the first thing wrong. */
export function parseLabelSelector(input: string): LabelSelector {
  const tokens = lexSelector(input);
  let at = 0;
  const peek = () => tokens[at]!;
  const next = () => tokens[at++]!;
  const fail = (t: Token, expected: string): never => {
    throw new LabelSelectorError(t.pos, expected, shown(t));
  };
  // `in` and `notin` are words only where an operator may stand; as a key or a value they are names.
  const name = (t: Token) => t.kind === 'id' || t.kind === 'in' || t.kind === 'notin';
  const key = (t: Token): string => {
    if (!name(t)) fail(t, 'a label key');
    if (!SELECTOR_KEY.test(t.text)) fail(t, 'a label key (1-63 letters, digits, "_", ".", "/" or "-", starting with a letter or digit)');
    return t.text;
  };
  const value = (t: Token): string => {
    if (!SELECTOR_VALUE.test(t.text)) fail(t, 'a label value (at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit)');
    return t.text;
  };

  const requirements: Requirement[] = [];
  if (peek().kind === 'end') return requirements;
  for (;;) {
    const first = next();
    if (first.kind === '!') {
      requirements.push({ key: key(next()), operator: '!', values: [] });
    } else {
      const k = key(first);
      const op = next();
      switch (op.kind) {
        case 'end':
        case ',':
          at--;
          requirements.push({ key: k, operator: 'exists', values: [] });
          break;
        case '=':
        case '==':
        case '!=': {
          // `x=` and `x= ,y` mean the empty value, as in Kubernetes.
          const v = peek().kind === 'end' || peek().kind === ',' ? '' : name(peek()) ? value(next()) : fail(peek(), 'a label value');
          requirements.push({ key: k, operator: op.kind === '!=' ? '!=' : '=', values: [v] });
          break;
        }
        case 'in':
        case 'notin': {
          if (next().kind !== '(') fail(tokens[at - 1]!, '"("');
          const values = new Set<string>();
          // `()`, `(a,)` and `(a,,b)` hold the empty value, as in Kubernetes.
          for (;;) {
            const t = peek();
            if (name(t)) {
              values.add(value(next()));
            } else if (t.kind === ',' || t.kind === ')') {
              values.add('');
            } else {
              fail(t, 'a label value, "," or ")"');
            }
            const sep = next();
            if (sep.kind === ')') break;
            if (sep.kind !== ',') fail(sep, '"," or ")"');
          }
          requirements.push({ key: k, operator: op.kind, values: [...values].sort() });
          break;
        }
        default:
          fail(op, '"=", "==", "!=", "in", "notin", "," or the end');
      }
    }
    const after = next();
    if (after.kind === 'end') return requirements;
    if (after.kind !== ',') fail(after, '"," or the end');
  }
}

/** Does a label set satisfy every requirement? (Kubernetes semantics: `!=` and `notin` match an absent key.) */
export function matchesLabelSelector(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return selector.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.operator) {
      case 'exists':
        return has;
      case '!':
        return !has;
      case '=':
      case 'in':
        return has && r.values.includes(v!);
      case '!=':
      case 'notin':
        return !has || !r.values.includes(v!);
    }
  });
}

/** The canonical text of a parsed selector (no spaces), e.g. for logs and error details. */
export function formatLabelSelector(selector: LabelSelector): string {
  return selector
    .map((r) => {
      switch (r.operator) {
        case 'exists':
          return r.key;
        case '!':
          return `!${r.key}`;
        case '=':
        case '!=':
          return `${r.key}${r.operator}${r.values[0]}`;
        case 'in':
        case 'notin':
          return `${r.key} ${r.operator} (${r.values.join(',')})`;
      }
    })
    .join(',');
}
