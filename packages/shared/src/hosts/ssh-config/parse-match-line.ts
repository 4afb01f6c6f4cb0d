import type { Criterion } from './config-model.ts';
import { asciiLower, ConfigSyntaxError, strdelim } from './tokenize.ts';

/** Criteria that depend on the machine running ssh (some only in newer OpenSSH): never evaluated. */
const LOCAL_CRITERIA = new Set(['exec', 'localuser', 'localnetwork', 'tagged', 'version', 'sessiontype', 'command']);

/**
 * readconf.c `match_cfg_line`, the parsing half: the criteria of a `Match` line, with ssh's errors
 * (ssh refuses the whole file on any of them). Words are split by `strdelim`, so only double quotes
 * group (`Match exec "test -f x"`), and a word starting with `#` ends the line.
 */
export function parseMatchLine(rest: string): { criteria: Criterion[]; words: string[] } {
  const criteria: Criterion[] = [];
  const words: string[] = [];
  let attributes = 0;
  let pos: number | null = 0;
  while (pos !== null) {
    const { word: attrib, next } = strdelim(rest, pos);
    if (attrib === '' || attrib.startsWith('#')) break;
    words.push(attrib);
    const negated = attrib.startsWith('!');
    const name = asciiLower(negated ? attrib.slice(1) : attrib);
    if (name === 'all') {
      const after = next === null ? '' : strdelim(rest, next).word;
      if (attributes > 1 || (after !== '' && !after.startsWith('#'))) throw new ConfigSyntaxError(`'${attrib}' cannot be combined with other Match attributes`);
      criteria.push({ kind: 'all', negated });
      return { criteria, words };
    }
    attributes++;
    if (name === 'canonical' || name === 'final') {
      criteria.push({ kind: name, negated });
      pos = next;
      continue;
    }
    const argument = next === null ? null : strdelim(rest, next);
    if (argument === null || argument.word === '' || argument.word.startsWith('#')) throw new ConfigSyntaxError(`Missing Match criteria for ${attrib}`);
    const arg = argument.word;
    words.push(arg);
    if (name === 'host' || name === 'originalhost' || name === 'user') criteria.push({ kind: name, negated, arg });
    else if (LOCAL_CRITERIA.has(name)) criteria.push({ kind: 'local', negated, name, arg });
    else throw new ConfigSyntaxError(`Unsupported Match attribute ${attrib}`);
    pos = argument.next;
  }
  if (attributes === 0) throw new ConfigSyntaxError('One or more attributes required for Match');
  return { criteria, words };
}
