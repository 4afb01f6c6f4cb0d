/**
 * Text that goes into a job's shell command as DATA: one word, whatever it holds. POSIX
 * single quotes keep every byte as it is (no `$`, backquote, `\`, glob or newline is special
 * inside them); a `'` ends the quoting, is written escaped, and quoting resumes. sh, dash, bash,
 * ksh and zsh all read it so (the agent runs `sh -c`, an SSH host the user's login shell).
 */
export const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * A project's directory as one shell word: `~` and `~/…` are the home of whoever runs the job
 * there (`"$HOME"`, expanded by that shell), anything else is quoted as is.
 */
export function shellDir(dir: string): string {
  if (dir === '~') return '"$HOME"';
  if (dir.startsWith('~/')) return `"$HOME"/${shellQuote(dir.slice(2))}`;
  return shellQuote(dir);
}
