import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { parseDuration } from './duration.ts';

/** The job body's `retry` (POST /v1/jobs; on a run, every child's), as `vmo run` builds it. */
export interface RetryRequest {
  max: number;
  backoff?: { type: 'exponential' | 'fixed'; delayMs: number; maxDelayMs?: number; jitter?: number };
  on?: { exitCodes?: number[] | 'nonzero'; lost?: boolean; agentOffline?: boolean; timedOut?: boolean };
}

export interface RetryFlags {
  retry?: string | undefined;
  retryOn?: string | undefined;
  retryBackoff?: string | undefined;
  retryJitter?: string | undefined;
}

export const RETRY_HELP = `Retries (the job's retry policy; on a fleet run, every target's):
  --retry N                 run it again up to N times (0-100) when an attempt fails
  --retry-on WHAT,...       which ends are retried: nonzero (any failure, the default), exit codes
                            (1,75), lost (its agent or worker vanished), offline (its agent stayed
                            offline), timeout; naming any replaces the default: --retry-on 75,lost
  --retry-backoff TYPE:DELAY[:MAX]
                            exponential (DELAY, then doubled each retry, up to MAX) or fixed:
                            exponential:1s:5m, fixed:30s (default exponential:1s)
  --retry-jitter 0-1        each delay drawn from [d × (1 - jitter), d]
A canceled job is never retried; vmo logs --attempt N prints one attempt's output.`;

const usage = (message: string) => new CliError(message, ExitCode.usage, 'usage');

/**
 * The `--retry*` flags as the job body's `retry`, or undefined without --retry. Checked here for
 * the shape (a usage error, exit 2, before any server is asked); the server checks the bounds again.
 */
export function parseRetryFlags(flags: RetryFlags): RetryRequest | undefined {
  if (flags.retry === undefined) {
    for (const [flag, value] of [['--retry-on', flags.retryOn], ['--retry-backoff', flags.retryBackoff], ['--retry-jitter', flags.retryJitter]] as const) {
      if (value !== undefined) throw usage(`${flag} needs --retry N (how many times)`);
    }
    return undefined;
  }
  if (!/^\d{1,3}$/.test(flags.retry) || Number(flags.retry) > 100) throw usage(`--retry: "${flags.retry}" must be a whole number from 0 to 100 (the most retries)`);
  const retry: RetryRequest = { max: Number(flags.retry) };
  if (flags.retryOn !== undefined) retry.on = parseRetryOn(flags.retryOn);
  if (flags.retryBackoff !== undefined || flags.retryJitter !== undefined) {
    retry.backoff = parseBackoff(flags.retryBackoff ?? 'exponential:1s');
    if (flags.retryJitter !== undefined) {
      const jitter = Number(flags.retryJitter);
      if (!/^\d*\.?\d+$/.test(flags.retryJitter) || jitter > 1) throw usage(`--retry-jitter: "${flags.retryJitter}" must be a number from 0 to 1`);
      retry.backoff.jitter = jitter;
    }
  }
  return retry;
}

function parseRetryOn(text: string): NonNullable<RetryRequest['on']> {
  const on: NonNullable<RetryRequest['on']> = {};
  const codes: number[] = [];
  for (const word of text.split(',').map((w) => w.trim())) {
    if (/^\d{1,3}$/.test(word) && Number(word) >= 1 && Number(word) <= 255) codes.push(Number(word));
    else if (word === 'nonzero') on.exitCodes = 'nonzero';
    else if (word === 'lost') on.lost = true;
    else if (word === 'offline' || word === 'agent-offline') on.agentOffline = true;
    else if (word === 'timeout' || word === 'timed-out') on.timedOut = true;
    else throw usage(`--retry-on: "${word}" is not an end to retry: give nonzero, exit codes from 1 to 255, lost, offline or timeout (comma-separated)`);
  }
  if (codes.length > 0) {
    if (on.exitCodes === 'nonzero') throw usage('--retry-on: nonzero already retries every exit code: give it or a list of codes, not both');
    on.exitCodes = [...new Set(codes)];
  }
  return on;
}

function parseBackoff(text: string): NonNullable<RetryRequest['backoff']> {
  const [type, delay, max, ...rest] = text.split(':');
  if ((type !== 'exponential' && type !== 'fixed') || delay === undefined || rest.length > 0 || (type === 'fixed' && max !== undefined)) {
    throw usage(`--retry-backoff: "${text}" must be exponential:DELAY[:MAX] or fixed:DELAY (exponential:1s:5m, fixed:30s)`);
  }
  const backoff: NonNullable<RetryRequest['backoff']> = { type, delayMs: delay === '0' ? 0 : parseDuration(delay, '--retry-backoff') };
  if (max !== undefined) backoff.maxDelayMs = parseDuration(max, '--retry-backoff');
  return backoff;
}

/** `--retain-days`: how long the job (and its output) is kept once ended, 1 to 3650 days. */
export function parseRetainDays(text: string): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > 3650) throw usage(`--retain-days: "${text}" must be a whole number of days from 1 to 3650`);
  return Number(text);
}
