/**
 * The job's command from what followed `--`. A job's command is one string run by `/bin/sh -c`
 * on the target, so:
 *
 * - one argument is passed as it is: `vmo run -- 'echo hi; exit 3'` runs that shell line;
 * - several arguments are each quoted for the shell and joined with spaces, so the command sees
 *   exactly these arguments: `vmo run -- sh -c 'echo hi; exit 3'` runs `sh -c 'echo hi; exit 3'`.
 */
export function commandLine(argv: readonly string[]): string {
  if (argv.length === 1) return argv[0]!;
  return argv.map(shellQuote).join(' ');
}

/** A word the POSIX shell reads back as exactly `word`: as is when it has nothing special, else in single quotes (a `'` as `'\''`). */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export const COMMAND_LINE_HELP = `The command: everything after \`--\`. It runs with /bin/sh -c on the target:
  one argument is a shell line, passed as it is:     vmo run -- 'echo hi; exit 3'
  several are quoted so the command gets each as is: vmo run -- sh -c 'echo hi; exit 3'`;
