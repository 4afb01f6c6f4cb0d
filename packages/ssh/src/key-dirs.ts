import { homedir } from 'node:os';
import { isAbsolute, normalize } from 'node:path';

/**
 * VMO_SSH_KEY_DIRS: the directories identity files may come from, absolute, separated by `:` or
 * `,` (`~` is this process's home). Default: the service user's `~/.ssh`.
 */
export function parseKeyDirs(value: string, home = homedir()): string[] {
  const dirs = value
    .split(/[:,]/)
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => (d === '~' || d.startsWith('~/') ? home + d.slice(1) : d));
  if (dirs.length === 0) throw new Error('must list at least one absolute directory, separated by ":" or ","');
  const relative = dirs.find((d) => !isAbsolute(d));
  if (relative !== undefined) throw new Error(`must list absolute directories separated by ":" or "," (${JSON.stringify(relative)} is not absolute)`);
  return dirs.map((d) => normalize(d));
}
