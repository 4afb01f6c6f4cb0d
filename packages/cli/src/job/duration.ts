import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `10m`, `1h30m`, `500ms` (a bare number is seconds) → milliseconds; a CliError naming the option otherwise. */
export function parseDuration(text: string, option: string): number {
  const bare = /^\d+$/.test(text) ? `${text}s` : text;
  const parts = [...bare.matchAll(/(\d+)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== bare) {
    throw new CliError(`${option}: "${text}" is not a duration (like 90s, 10m, 1h30m)`, ExitCode.usage, 'usage');
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0);
  if (ms < 1) throw new CliError(`${option}: must be longer than 0`, ExitCode.usage, 'usage');
  return ms;
}
