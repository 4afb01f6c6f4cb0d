/**
 * How OpenSSH cuts a client config line into words (misc.c `strdelim` and `argv_split`, as used by
 * readconf.c `process_config_line`). Followed to the letter because a config means what ssh reads,
 * not what it looks like: `#` starts a comment only at the start of a word
 * (`IdentityFile ~/.ssh/key#1` keeps `#1`), `Key=Value` and `Key Value` are the same, and quotes
 * group words.
 */

const WHITESPACE = ' \t\r\n';
const isWhitespace = (c: string | undefined) => c !== undefined && WHITESPACE.includes(c);

export class ConfigSyntaxError extends Error {}

/**
 * misc.c `strdelim`: the next word of `s` from `pos`, split on whitespace or one `=`, a `"…"` run
 * kept whole (only double quotes). Returns the word and where the next one starts (`null` at the
 * end of the line). Used for the keyword and for `Match` criteria, as readconf does.
 */
export function strdelim(s: string, pos: number): { word: string; next: number | null } {
  let i = pos;
  while (i < s.length && !isWhitespace(s[i]) && s[i] !== '"' && s[i] !== '=') i++;
  if (i >= s.length) return { word: s.slice(pos), next: null };
  if (s[i] === '"') {
    const close = s.indexOf('"', i + 1);
    if (close < 0) throw new ConfigSyntaxError('a double quote is not closed');
    return { word: s.slice(pos, i) + s.slice(i + 1, close), next: skipWhitespace(s, close + 1) };
  }
  const splitOnEquals = s[i] === '=';
  let next = skipWhitespace(s, i + 1);
  // Only one `=` is skipped: `Host = x` and `Host=x` are both "Host" then "x".
  if (!splitOnEquals && s[next] === '=') next = skipWhitespace(s, next + 1);
  return { word: s.slice(pos, i), next };
}

export function skipWhitespace(s: string, pos: number): number {
  while (pos < s.length && isWhitespace(s[pos])) pos++;
  return pos;
}

/**
 * misc.c `argv_split(…, terminate_on_comment = 1)`: the arguments of a line. Words split on spaces
 * and tabs; `'…'` and `"…"` group (a quote may start mid-word); backslash escapes a quote, a
 * backslash, or (outside quotes) a space, and is kept otherwise; a word that starts with `#` ends
 * the line. An unclosed quote is an error, as in ssh ("invalid quotes").
 */
export function argvSplit(s: string): string[] {
  // Most lines have no quote or backslash: plain words, cut at the first one starting with `#`.
  if (!/["'\\]/.test(s)) {
    const plain = s.split(/[ \t]+/).filter((w) => w !== '');
    const comment = plain.findIndex((w) => w.startsWith('#'));
    return comment < 0 ? plain : plain.slice(0, comment);
  }
  const words: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '#') break;
    let word = '';
    let quote = '';
    for (; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '\\') {
        const n = s[i + 1];
        if (n === "'" || n === '"' || n === '\\' || (quote === '' && n === ' ')) {
          word += n;
          i++;
        } else word += ch;
      } else if (quote === '' && (ch === ' ' || ch === '\t')) break;
      else if (quote === '' && (ch === '"' || ch === "'")) quote = ch;
      else if (quote !== '' && ch === quote) quote = '';
      else word += ch;
    }
    if (quote !== '') throw new ConfigSyntaxError('invalid quotes');
    words.push(word);
  }
  return words;
}

/** Lowercase A-Z only, as C's tolower() in the "C" locale that ssh runs its matching in. */
export const asciiLower = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
