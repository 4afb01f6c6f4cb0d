import type { Job } from '@vmo/shared/api';
import { formatTargetParam, parseTargetParam, targetChoice, type TargetChoice } from './job-target.ts';
import type { Pair } from './pairs.ts';

/**
 * The New job form's query, both ways: what "Run again" writes (`runAgainHref`) and what
 * /jobs/new reads to fill the form in (`readNewJobQuery`), so the two cannot drift apart.
 *
 * `command`, `target` (one word: job-target.ts), `cwd`, `timeoutMs`, and `env` and `label`
 * repeated as `NAME=value`. Never secretEnv: a URL is kept in history, logs and shared links,
 * and the API never shows those values anyway (the form asks for them again).
 */
export interface NewJobPrefill {
  command: string;
  target: TargetChoice | undefined;
  cwd: string;
  timeoutMs: number | undefined;
  env: Pair[];
  labels: Pair[];
}

/** The New job page filled in with this job: command, target, cwd, timeout, env and labels. */
export function runAgainHref(job: Pick<Job, 'command' | 'target' | 'cwd' | 'timeoutMs' | 'env' | 'labels'>): string {
  const q = new URLSearchParams({ command: job.command, target: formatTargetParam(targetChoice(job.target)) });
  if (job.cwd) q.set('cwd', job.cwd);
  q.set('timeoutMs', String(job.timeoutMs));
  for (const [name, value] of Object.entries(job.env)) q.append('env', `${name}=${value}`);
  for (const [name, value] of Object.entries(job.labels)) q.append('label', `${name}=${value}`);
  return `/jobs/new?${q}`;
}

export function readNewJobQuery(query: URLSearchParams): NewJobPrefill {
  const timeoutMs = Number(query.get('timeoutMs') ?? NaN);
  return {
    command: query.get('command') ?? '',
    target: parseTargetParam(query.get('target')),
    cwd: query.get('cwd') ?? '',
    timeoutMs: Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : undefined,
    env: query.getAll('env').map(toPair),
    labels: query.getAll('label').map(toPair),
  };
}

/** `NAME=value` (the value may hold `=`); no `=`: a name with an empty value. */
function toPair(text: string): Pair {
  const eq = text.indexOf('=');
  return eq < 0 ? { key: text, value: '' } : { key: text.slice(0, eq), value: text.slice(eq + 1) };
}

/**
 * A duration in ms as the form's number and unit: the largest unit it is a whole number of
 * (2 h, 90 min, 45 s), else seconds with a fraction (1.5 s).
 */
export function timeoutFields(ms: number): { value: number; unit: 's' | 'min' | 'h' } {
  if (ms % 3_600_000 === 0) return { value: ms / 3_600_000, unit: 'h' };
  if (ms % 60_000 === 0) return { value: ms / 60_000, unit: 'min' };
  return { value: ms / 1000, unit: 's' };
}
