import { shellQuote } from '../process/shell-quote.ts';

/**
 * A project's directory as one shell word: `~` and `~/…` are the home of whoever runs the job
 * there (`"$HOME"`, expanded by that shell), anything else is quoted as is.
 */
export function shellDir(dir: string): string {
  if (dir === '~') return '"$HOME"';
  if (dir.startsWith('~/')) return `"$HOME"/${shellQuote(dir.slice(2))}`;
  return shellQuote(dir);
}
