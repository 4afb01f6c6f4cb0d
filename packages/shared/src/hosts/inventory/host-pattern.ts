/**
 * A host entry of an Ansible inventory (`web[01:03].example.com:2222`) as Ansible reads it:
 * `parse_address` (ansible/parsing/utils/addresses.py) splits off a port, and
 * `expand_hostname_range` (ansible/plugins/inventory/__init__.py) expands each `[a:b]` or
 * `[a:b:step]` range, numeric (`[01:10]` keeps the leading zeros) or alphabetic (`[a:f]`), left to
 * right, several per name. What Ansible refuses (`[3:1]` on letters, unequal zero-padded bounds,
 * a step of 0) throws `HostPatternError`; what parse_address does not recognise is taken whole
 * as the name, as Ansible does.
 *
 * LOUD: a range is counted before it is expanded: `web[0:99999999]` is refused by `budget`, not
 * allocated.
 */
export class HostPatternError extends Error {}

const numericRange = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const hexRange = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const alnumRange = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const ipv6Component = `(?:[0-9a-f]{1,4}|${hexRange})`;
const ipv4Component = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${numericRange})`;
// Python's \w with re.UNICODE: letters, digits and underscore of any script.
const label = `(?:[\\p{L}\\p{N}_]|${alnumRange})(?:[\\p{L}\\p{N}_-]|${alnumRange})*(?<![_-])`;

const BRACKETED_HOSTPORT = /^\[(.+)\]:([0-9]+)$/s;
const HOSTPORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/s;
const c6 = ipv6Component;
const c4 = ipv4Component;
const IPV4 = new RegExp(`^(?:${c4}\\.){3}${c4}$`, 'i');
const IPV6 = new RegExp(
  '^(?:' +
    [
      `(?:${c6}:){7}${c6}`,
      `(?:${c6}:){1,6}:`,
      `(?:${c6}:)(?::${c6}){1,6}`,
      `(?:${c6}:){2}(?::${c6}){1,5}`,
      `(?:${c6}:){3}(?::${c6}){1,4}`,
      `(?:${c6}:){4}(?::${c6}){1,3}`,
      `(?:${c6}:){5}(?::${c6}){1,2}`,
      `(?:${c6}:){6}(?::${c6})`,
      `:(?::${c6}){1,6}`,
      `${c6}?::`,
      `(?:0:){6}(?:${c4}\\.){3}${c4}`,
      `::(?:ffff:)?(?:${c4}\\.){3}${c4}`,
      `(?:0:){5}ffff:(?:${c4}\\.){3}${c4}`,
    ].join('|') +
    ')$',
  'i',
);
const HOSTNAME = new RegExp(`^${label}(?:\\.${label})*$`, 'iu');

/** Longer entries are refused before any regular expression sees them (no name is that long). */
export const MAX_HOST_PATTERN_CHARS = 1024;

/** `parse_address(pattern, allow_ranges=True)`: the host (with its ranges) and the port, if any. */
export function parseAddress(address: string): { host: string; port: number | null } | undefined {
  let port: number | null = null;
  // Python's loop goes on to the second pattern with what the first left (`continue`, not `break`).
  for (const re of [BRACKETED_HOSTPORT, HOSTPORT]) {
    const m = re.exec(address);
    if (m) {
      address = m[1]!;
      port = Number(m[2]);
    }
  }
  if (IPV4.test(address) || IPV6.test(address) || HOSTNAME.test(address)) return { host: address, port };
  return undefined;
}

/** `_expand_hostpattern`: the names a host entry stands for, and the port it gives them. */
export function expandHostPattern(pattern: string, budget: number): { names: string[]; port: number | null } {
  if (pattern.length > MAX_HOST_PATTERN_CHARS) throw new HostPatternError(`host pattern is longer than ${MAX_HOST_PATTERN_CHARS} characters`);
  const parsed = parseAddress(pattern);
  const name = parsed ? parsed.host : pattern;
  const port = parsed ? parsed.port : null;
  return { names: name.includes('[') ? expandRanges(name, budget) : [name], port };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Python's int() on a range bound: optional spaces and sign, digits with single underscores. */
function pyInt(text: string): number {
  if (!/^\s*[-+]?[0-9](?:_?[0-9])*\s*$/.test(text)) throw new HostPatternError(`invalid literal for int() with base 10: '${text}'`);
  return Number(text.replace(/[\s_]/g, ''));
}

/** str(x).zfill(width): zeros after the sign. */
function zfill(x: number, width: number): string {
  const s = String(Math.abs(x));
  const sign = x < 0 ? '-' : '';
  return sign + s.padStart(width - sign.length, '0');
}

interface Range {
  head: string;
  tail: string;
  values: (i: number) => string;
  count: number;
}

function firstRange(line: string): Range {
  // Python: line.replace('[', '|', 1).replace(']', '|', 1).split('|') must give exactly three parts.
  const replaced = line.replace('[', '|').replace(']', '|');
  const parts = replaced.split('|');
  if (parts.length !== 3) throw new HostPatternError(`cannot expand host range in '${line}'`);
  const [head, nrange, tail] = parts as [string, string, string];
  const bounds = nrange.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new HostPatternError('host range must be begin:end or begin:end:step');
  const beg = bounds[0] || '0';
  const end = bounds[1]!;
  const stepText = bounds.length === 3 ? bounds[2]! : '1';
  if (!end) throw new HostPatternError('host range must specify end value');
  let fill = (x: number) => String(x);
  if (beg[0] === '0' && beg.length > 1) {
    if (beg.length !== end.length) throw new HostPatternError('host range must specify equal-length begin and end formats');
    fill = (x) => zfill(x, beg.length);
  }
  // Python looks the bounds up with string.ascii_letters.index(): a substring search.
  const iBeg = LETTERS.indexOf(beg);
  const iEnd = LETTERS.indexOf(end);
  if (iBeg >= 0 && iEnd >= 0) {
    if (iBeg > iEnd) throw new HostPatternError('host range must have begin <= end');
    let step: number | undefined;
    try {
      step = pyInt(stepText);
    } catch {
      step = undefined;
    }
    if (step !== undefined && step !== 0) {
      const picked: string[] = [];
      // Python slice [iBeg:iEnd+1:step]; a negative step from a lower start gives nothing.
      if (step > 0) for (let i = iBeg; i <= iEnd; i += step) picked.push(LETTERS[i]!);
      return { head, tail, values: (i) => picked[i]!, count: picked.length };
    }
    // int(step) failed or a zero step: ValueError, which Ansible answers with a numeric range.
  }
  const b = pyInt(beg);
  const e = pyInt(end);
  const step = pyInt(stepText);
  if (step === 0) throw new HostPatternError('range() arg 3 must not be zero');
  // len(range(b, e + 1, step)), whatever the step's sign.
  const count = Math.max(0, Math.ceil((e + 1 - b) / step));
  return { head, tail, values: (i) => fill(b + i * step), count };
}

/** Every name of a pattern with ranges, at most `budget` of them (else HostPatternError with `tooMany`). */
export function expandRanges(line: string, budget: number): string[] {
  const range = firstRange(line);
  // The tail (with any further ranges) is the same for every value: expand it once.
  const tails = range.tail.includes('[') ? expandRanges(range.tail, Math.max(1, Math.floor(budget / Math.max(1, range.count)))) : [range.tail];
  if (range.count * tails.length > budget) throw new TooManyHosts(range.count * tails.length, budget);
  const names: string[] = [];
  for (let i = 0; i < range.count; i++) {
    const middle = range.head + range.values(i);
    for (const tail of tails) names.push(middle + tail);
  }
  return names;
}

export class TooManyHosts extends HostPatternError {
  constructor(
    readonly count: number,
    readonly budget: number,
  ) {
    super(`expands to ${count > budget ? `more than ${budget}` : count} hosts`);
  }
}
