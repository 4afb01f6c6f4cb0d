import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { parseDuration } from './duration.ts';

const AT_HELP = 'give a time (2030-01-31T22:00:00Z, 2030-01-31T23:00+01:00, or 2030-01-31 22:00 in this machine\'s timezone) or +DURATION (+90s, +10m, +1h30m)';

/**
 * `--at`: the job's (or run's) runAt as the API takes it (ISO 8601 with an offset). `+10m` is from
 * now; a time with an offset is sent as written (the server checks it: a year ahead at most); a
 * time without one is this machine's local time, as `date` would read it. A date alone is refused:
 * midnight in which timezone is a guess.
 */
export function parseAt(text: string): string {
  if (text.startsWith('+')) return new Date(Date.now() + parseDuration(text.slice(1), '--at')).toISOString();
  if (!/^\d{4}-\d\d-\d\d[T ]\d\d:\d\d/.test(text)) throw new CliError(`--at: "${text}" is not a time: ${AT_HELP}`, ExitCode.usage, 'usage');
  if (/(Z|[+-]\d\d:?\d\d)$/i.test(text)) return text;
  const local = new Date(text.replace(' ', 'T'));
  if (Number.isNaN(local.getTime())) throw new CliError(`--at: "${text}" is not a time: ${AT_HELP}`, ExitCode.usage, 'usage');
  return local.toISOString();
}

/** `--priority`: 1 (lowest) to 10 (highest). */
export function parsePriority(text: string): number {
  if (!/^\d{1,2}$/.test(text) || Number(text) < 1 || Number(text) > 10) {
    throw new CliError(`--priority: "${text}" must be a whole number from 1 (lowest) to 10 (highest)`, ExitCode.usage, 'usage');
  }
  return Number(text);
}
