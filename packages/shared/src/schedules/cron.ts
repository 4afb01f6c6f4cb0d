import { Cron } from 'croner';
import { badRequest } from '../errors/app-error.ts';

/**
 * A schedule's expression in its timezone, parsed once: five fields (minute hour day-of-month
 * month day-of-week) or six with seconds first, or one of the nicknames (`@daily`, `@hourly`, …),
 * read by croner in the IANA timezone. Day-of-month and day-of-week combine with OR, as in Vixie
 * cron. Daylight saving (croner's rule, the same as Vixie cron's for fixed times): a fixed time in
 * the hour that does not exist fires at the first time after the gap; a fixed time that occurs
 * twice fires once, at the first; an interval (`*`, `*\/15`) skips what does not exist and fires at
 * both of what occurs twice, since those are distinct instants.
 */
export interface ScheduleClock {
  /** The first tick strictly after `after`, or null when there is none. */
  nextAfter(after: Date): Date | null;
  /** The next `n` ticks strictly after `after`. */
  nextTicks(n: number, after: Date): Date[];
  /** The last tick strictly before `before`, or null. */
  previousBefore(before: Date): Date | null;
}

const NICKNAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** True when `name` is an IANA timezone this runtime knows (and `UTC`). */
export function isTimezone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * The expression and the zone checked and parsed. Throws 400 `validation_failed` naming `cron` or
 * `timezone` (field prefix `prefix`, for a PATCH the same names): not 5 or 6 fields, a field
 * croner refuses, an expression with no tick at all (`0 0 30 2 *`), a zone nobody has heard of.
 */
export function scheduleClock(cron: string, timezone: string): ScheduleClock {
  if (!isTimezone(timezone)) {
    throw badRequest('validation_failed', `timezone: ${JSON.stringify(timezone)} is not an IANA timezone name (such as "UTC", "Europe/Berlin", "America/New_York")`, { field: 'timezone' });
  }
  const expression = cron.trim();
  const fields = expression.split(/\s+/);
  const nickname = fields.length === 1 && NICKNAMES.has(expression.toLowerCase());
  if (!nickname && fields.length !== 5 && fields.length !== 6) {
    throw badRequest('validation_failed', `cron: has ${fields.length} field${fields.length === 1 ? '' : 's'}; give five (minute hour day-of-month month day-of-week) or six (seconds first), e.g. "30 2 * * *"`, { field: 'cron' });
  }
  let parsed: Cron;
  try {
    parsed = new Cron(expression, { paused: true, timezone, mode: '5-or-6-parts' });
  } catch (err) {
    throw badRequest('validation_failed', `cron: ${cronMessage(err)}`, { field: 'cron' });
  }
  const clock: ScheduleClock = {
    nextAfter: (after) => parsed.nextRun(after),
    nextTicks: (n, after) => parsed.nextRuns(n, after),
    previousBefore: (before) => parsed.previousRuns(1, before)[0] ?? null,
  };
  if (clock.nextAfter(new Date()) === null) {
    throw badRequest('validation_failed', `cron: ${JSON.stringify(cron)} never fires (no date matches it)`, { field: 'cron' });
  }
  return clock;
}

/** croner's words without its class prefix (`CronPattern: Invalid value for minute: 61`). */
function cronMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/^Cron[A-Za-z]*:\s*/, '').replace(/\.$/, '') || 'is not a cron expression';
}
