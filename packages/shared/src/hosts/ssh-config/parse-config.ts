import { badRequest } from '../../errors/app-error.ts';
import type { Block, ParsedConfig, SettingKey } from './config-model.ts';
import { parseMatchLine } from './parse-match-line.ts';
import { argvSplit, asciiLower, ConfigSyntaxError, skipWhitespace, strdelim } from './tokenize.ts';
import { runToCompletion } from './run-cooperatively.ts';
import { SSH_CONFIG_LIMITS, tooLarge } from './work-meter.ts';

/** Keywords that take exactly one argument and whose value the import uses. */
const SINGLE_VALUE = new Set<SettingKey>(['hostname', 'user', 'port', 'identityfile', 'stricthostkeychecking', 'canonicalizehostname']);

const INCLUDE_REASON =
  "Include is not followed: the server does not read files named in an uploaded config; import the included file's text too (same request or another)";
const LOCAL_MATCH_REASON =
  "Match criteria other than host, originalhost, user, all, canonical and final depend on the operator's machine and are not evaluated (exec commands are never run); aliases it could change are skipped";
const CANONICALIZE_REASON =
  "CanonicalizeHostname is not applied: with it ssh looks names up in DNS (CanonicalDomains) on the operator's machine; aliases whose host name it could change are skipped";

/**
 * Read an OpenSSH client config the way readconf.c `process_config_line` does, keeping the Host
 * and Match blocks and the settings the import uses. Text ssh itself refuses (unclosed quotes, a
 * Host or Match line without arguments, an unknown Match criterion, a second argument to User …)
 * is a 400 naming the line; unknown keywords are ignored (ssh would refuse them, but newer ssh
 * versions add keywords and none of them changes what is imported).
 *
 * Linear in the text. Limits (size, line length, blocks, aliases) are checked as it goes: 413.
 * A generator that yields every few thousand lines, so a caller can let the event loop run.
 */
export function* parseSshConfigInSlices(text: string): Generator<void, ParsedConfig> {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > SSH_CONFIG_LIMITS.bytes) throw tooLarge(`${bytes} bytes is over the limit of ${SSH_CONFIG_LIMITS.bytes} bytes for one import; split the file and import it in parts`);
  const config: ParsedConfig = { blocks: [{ line: 0, text: '(before any Host or Match line)', settings: [] }], aliases: [], notes: [], wantsFinalPass: false };
  const seen = new Set<string>();
  // A byte-order mark (Windows editors write one) would make the first keyword unknown; ssh then
  // refuses the file, and ignoring the line would put its settings in the wrong block. Drop it.
  const lines = (text.startsWith('\uFEFF') ? text.slice(1) : text).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!;
    if (raw.length > SSH_CONFIG_LIMITS.lineChars) throw tooLarge(`line ${lineNo} has ${raw.length} characters, over the limit of ${SSH_CONFIG_LIMITS.lineChars}`);
    try {
      readLine(trimLineEnd(raw), lineNo, config, seen);
    } catch (err) {
      if (!(err instanceof ConfigSyntaxError)) throw err;
      throw badRequest('invalid_ssh_config', `config line ${lineNo}: ${err.message} (ssh itself refuses this file)`, { field: 'config', line: lineNo });
    }
    if (lineNo % LINES_PER_SLICE === 0) yield;
  }
  return config;
}

const LINES_PER_SLICE = 2000;

/**
 * readconf.c strips trailing whitespace (and form feeds). A loop, not `/\s+$/`: that regex
 * retries every run of spaces to the end of the line, quadratic on a long run mid-line.
 */
function trimLineEnd(line: string): string {
  let end = line.length;
  while (end > 0 && ' \t\r\n\f'.includes(line[end - 1]!)) end--;
  return line.slice(0, end);
}

/** The same, run to the end at once. */
export const parseSshConfig = (text: string): ParsedConfig => runToCompletion(parseSshConfigInSlices(text));

function readLine(line: string, lineNo: number, config: ParsedConfig, seen: Set<string>): void {
  if (line === '') return;
  let first: ReturnType<typeof strdelim>;
  try {
    first = strdelim(line, 0);
    // Leading whitespace (or `=`) gives an empty first word: the keyword is the next one.
    if (first.word === '' && first.next !== null) first = strdelim(line, first.next);
  } catch {
    return; // ssh ignores a line whose keyword has an unclosed quote (strdelim returns NULL)
  }
  const written = first.word;
  if (written === '' || written.startsWith('#')) return;
  const keyword = asciiLower(written);
  const rest = first.next === null ? '' : line.slice(skipWhitespace(line, first.next));
  if (rest === '') throw new ConfigSyntaxError(`no argument after keyword "${keyword}"`);
  const args = argvSplit(rest);
  const block = config.blocks[config.blocks.length - 1]!;
  switch (keyword) {
    case 'host':
      return addHostBlock(config, seen, lineNo, written, args);
    case 'match': {
      const { criteria, words } = parseMatchLine(rest);
      const text = `${written} ${words.join(' ')}`;
      addBlock(config, { line: lineNo, text, match: criteria, settings: [] });
      if (criteria.some((c) => c.kind === 'final')) config.wantsFinalPass = true;
      if (criteria.some((c) => c.kind === 'local')) config.notes.push({ alias: text, line: lineNo, reason: LOCAL_MATCH_REASON });
      return;
    }
    case 'include':
      config.notes.push({ alias: `${written} ${args.join(' ')}`, line: lineNo, reason: INCLUDE_REASON });
      return;
    case 'proxycommand':
    case 'proxyjump': {
      // The rest of the line, raw (readconf.c skips whitespace and `=`). ssh compares that raw text
      // with "none" (so `ProxyJump none # old` is a jump host named "none"); ProxyJump hops are
      // read with the comment cut off.
      const value = rest.replace(/^[ \t\r\n=]+/, '');
      const none = asciiLower(value) === 'none';
      const hops = keyword === 'proxyjump' ? value.replace(/#.*$/, '').trimEnd() : value;
      if (hops === '') throw new ConfigSyntaxError(`Invalid ${written} "${value}"`);
      block.settings.push({ key: keyword, value: hops, none, line: lineNo, text: `${written} ${value}` });
      return;
    }
    default:
      if (!SINGLE_VALUE.has(keyword as SettingKey)) return;
      if (args.length === 0 || args[0] === '') throw new ConfigSyntaxError(`Missing argument for ${written}`);
      if (args.length > 1) throw new ConfigSyntaxError(`keyword ${keyword} extra arguments at end of line`);
      block.settings.push({ key: keyword as SettingKey, value: args[0]!, line: lineNo, text: `${written} ${args[0]}` });
      if (keyword === 'canonicalizehostname' && ['yes', 'true', 'always'].includes(asciiLower(args[0]!))) {
        config.notes.push({ alias: `${written} ${args[0]}`, line: lineNo, reason: CANONICALIZE_REASON });
      }
  }
}

function addHostBlock(config: ParsedConfig, seen: Set<string>, lineNo: number, written: string, args: string[]): void {
  const host = args.map((arg) => {
    if (arg === '') throw new ConfigSyntaxError('keyword host empty argument');
    const negated = arg.startsWith('!');
    return { pattern: negated ? arg.slice(1) : arg, negated };
  });
  addBlock(config, { line: lineNo, text: `${written} ${args.join(' ')}`, host, settings: [] });
  for (const { pattern, negated } of host) {
    if (negated || /[*?]/.test(pattern) || seen.has(pattern)) continue;
    seen.add(pattern);
    if (config.aliases.length >= SSH_CONFIG_LIMITS.aliases) throw tooLarge(`more than ${SSH_CONFIG_LIMITS.aliases} host aliases (line ${lineNo}); import the file in parts`);
    config.aliases.push({ alias: pattern, line: lineNo });
  }
}

function addBlock(config: ParsedConfig, block: Block): void {
  if (config.blocks.length > SSH_CONFIG_LIMITS.blocks) throw tooLarge(`more than ${SSH_CONFIG_LIMITS.blocks} Host and Match blocks (line ${block.line}); import the file in parts`);
  config.blocks.push(block);
}

