/*
 * Retries (issue 14): the policy a job (or each child of a run) carries, its bounds, and the two
 * pure rules the lifecycle applies when an attempt ends (jobs/lifecycle/retry.ts): whether the
 * attempt is retried, and after how long. Pure so they read on one screen and are unit-tested
 * without a clock or a dice.
 */

/** `retry.max`: the most retries, so at most `max + 1` attempts. */
export const MAX_RETRIES = 100;
/** The longest `backoff.delayMs` and `backoff.maxDelayMs` (a day): also the cap when `maxDelayMs` is absent. */
export const MAX_RETRY_DELAY_MS = 24 * 3_600_000;
/** The delay before the first retry when `backoff` is absent. */
export const DEFAULT_RETRY_DELAY_MS = 1000;
/** `on.exitCodes` holds at most this many codes. */
export const MAX_RETRY_EXIT_CODES = 255;

export const RETRY_BACKOFF_TYPES = ['exponential', 'fixed'] as const;
export type RetryBackoffType = (typeof RETRY_BACKOFF_TYPES)[number];

/** How long to wait before each retry. */
export interface RetryBackoff {
  /** `fixed`: `delayMs` every time. `exponential`: `delayMs`, then doubled for each retry after the first. */
  type: RetryBackoffType;
  delayMs: number;
  /** The cap of an exponential delay; null: MAX_RETRY_DELAY_MS. */
  maxDelayMs: number | null;
  /** 0–1: each delay is drawn uniformly from [d × (1 − jitter), d], never longer than d. 0: exactly d. */
  jitter: number;
}

/** Which ends of an attempt are retried. */
export interface RetryOn {
  /** `failed` with one of these exit codes (`"nonzero"`: any), or null: none. */
  exitCodes: number[] | 'nonzero' | null;
  /** `lost`: its agent (or worker) vanished while it ran. */
  lost: boolean;
  /** `failed` with `agent_offline`: its agent was not online within the dispatch timeout. */
  agentOffline: boolean;
  /** `timed_out`: it ran past its `timeoutMs`. */
  timedOut: boolean;
}

/** The policy as stored with the job (jobs.retry): every default filled in, so a row says all. */
export interface RetryPolicy {
  max: number;
  backoff: RetryBackoff;
  on: RetryOn;
}

/** The policy's fields as a client may send them (the input schema: jobs/retry-input.ts). */
export interface RetryPolicyInput {
  max: number;
  backoff?: { type: RetryBackoffType; delayMs: number; maxDelayMs?: number | undefined; jitter?: number | undefined } | undefined;
  on?: { exitCodes?: number[] | 'nonzero' | undefined; lost?: boolean | undefined; agentOffline?: boolean | undefined; timedOut?: boolean | undefined } | undefined;
}

/**
 * The stored policy of an accepted input. Absent `backoff`: exponential from 1 s, no jitter.
 * Absent `on`: a failure is retried (`exitCodes: "nonzero"`), not a loss, an offline agent or a
 * timeout. An `on` that is given says everything: what it leaves out is not retried.
 */
export function resolveRetryPolicy(input: RetryPolicyInput): RetryPolicy {
  const b = input.backoff;
  const on = input.on;
  return {
    max: input.max,
    backoff: b
      ? { type: b.type, delayMs: b.delayMs, maxDelayMs: b.maxDelayMs ?? null, jitter: b.jitter ?? 0 }
      : { type: 'exponential', delayMs: DEFAULT_RETRY_DELAY_MS, maxDelayMs: null, jitter: 0 },
    on: on
      ? {
          exitCodes: on.exitCodes === undefined ? null : on.exitCodes === 'nonzero' ? 'nonzero' : [...new Set(on.exitCodes)].sort((x, y) => x - y),
          lost: on.lost ?? false,
          agentOffline: on.agentOffline ?? false,
          timedOut: on.timedOut ?? false,
        }
      : { exitCodes: 'nonzero', lost: false, agentOffline: false, timedOut: false },
  };
}

/**
 * The delay before retry `n` (1: the first retry, after attempt 1) before jitter:
 * `fixed` → delayMs; `exponential` → delayMs × 2^(n−1); either capped at maxDelayMs (or
 * MAX_RETRY_DELAY_MS).
 */
export function retryDelayCapMs(backoff: RetryBackoff, n: number): number {
  const cap = Math.min(backoff.maxDelayMs ?? MAX_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS);
  const base = backoff.type === 'fixed' ? backoff.delayMs : backoff.delayMs * 2 ** Math.max(0, n - 1);
  return Math.min(base, cap);
}

/** The range retry `n`'s delay is drawn from: [cap × (1 − jitter), cap], whole milliseconds. */
export function retryDelayRange(backoff: RetryBackoff, n: number): { minMs: number; maxMs: number } {
  const cap = retryDelayCapMs(backoff, n);
  return { minMs: Math.floor(cap * (1 - backoff.jitter)), maxMs: cap };
}

/**
 * The delay before retry `n`, jittered: `random` (0 ≤ r < 1, Math.random by default) takes up to
 * `jitter` of the capped delay off it. Full jitter (1) spreads retries of many jobs that failed
 * together over the whole interval, so they do not all come back at the same instant.
 */
export function retryDelayMs(backoff: RetryBackoff, n: number, random: () => number = Math.random): number {
  const { minMs, maxMs } = retryDelayRange(backoff, n);
  return Math.min(maxMs, Math.max(minMs, Math.round(maxMs * (1 - backoff.jitter * random()))));
}

/** How an attempt would end if it were not retried: what the policy is judged against. */
export interface AttemptOutcome {
  /** The status the attempt would end with. */
  status: 'succeeded' | 'failed' | 'canceled' | 'timed_out' | 'lost' | 'skipped';
  exitCode: number | null;
  /** The error it would end with, and whether trying again can help (errors/error-codes.ts JOB_ERRORS `retry`). */
  error: { code: string; mayPass: boolean } | null;
  /** A cancel is recorded for the job: it is never retried, even if this attempt ended on its own first. */
  cancelRequested: boolean;
}

/**
 * Whether attempt number `attempt` (1 for the first), ending with `outcome`, is retried under
 * `policy`. Never past `max` retries, never a job someone canceled, never a success. A failure
 * with an exit code is matched against `on.exitCodes`; one without (the command could not be run
 * there: an SSH connection refused, an internal error) is retried under `"nonzero"` unless its
 * error says trying again cannot help (an unknown host, a refused key); `agent_offline` only
 * under `on.agentOffline`.
 */
export function isRetried(policy: RetryPolicy, attempt: number, outcome: AttemptOutcome): boolean {
  if (attempt > policy.max) return false;
  if (outcome.cancelRequested) return false;
  const on = policy.on;
  switch (outcome.status) {
    case 'lost':
      return on.lost;
    case 'timed_out':
      return on.timedOut;
    case 'failed':
      if (outcome.error?.code === 'agent_offline') return on.agentOffline;
      if (outcome.exitCode !== null) {
        if (on.exitCodes === 'nonzero') return outcome.exitCode !== 0;
        return on.exitCodes !== null && on.exitCodes.includes(outcome.exitCode);
      }
      return on.exitCodes === 'nonzero' && (outcome.error === null || outcome.error.mayPass);
    default:
      return false;
  }
}
