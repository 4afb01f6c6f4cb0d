import { z } from 'zod';
import { MAX_RETRIES, MAX_RETRY_DELAY_MS, MAX_RETRY_EXIT_CODES, RETRY_BACKOFF_TYPES } from '../domain/retry-policy.ts';

const wholeMs = (what: string) =>
  z
    .number({ error: `must be a whole number of milliseconds from 0 to ${MAX_RETRY_DELAY_MS}` })
    .int(`must be a whole number of milliseconds`)
    .min(0, 'must be at least 0')
    .max(MAX_RETRY_DELAY_MS, `must be at most ${MAX_RETRY_DELAY_MS} (a day)`)
    .meta({ description: what });

const flag = (what: string) => z.boolean({ error: 'must be true or false' }).optional().meta({ description: what });

const ExitCode = z
  .number({ error: 'must be exit codes from 1 to 255' })
  .int('must be exit codes from 1 to 255')
  .min(1, 'must be exit codes from 1 to 255 (0 is success, never retried)')
  .max(255, 'must be exit codes from 1 to 255');

export const RetryBackoffInput = z
  .object({
    type: z.enum(RETRY_BACKOFF_TYPES, { error: 'must be "exponential" or "fixed"' }).meta({ description: '`fixed`: `delayMs` before every retry; `exponential`: `delayMs`, then doubled for each further retry' }),
    delayMs: wholeMs('The delay before the first retry (ms)'),
    maxDelayMs: wholeMs('The cap of an exponential delay (ms); at least `delayMs`. Absent: a day').optional(),
    jitter: z
      .number({ error: 'must be a number from 0 to 1' })
      .min(0, 'must be at least 0')
      .max(1, 'must be at most 1')
      .optional()
      .meta({ description: 'From 0 (absent) to 1: each delay is drawn uniformly from [d × (1 − jitter), d], so jobs that failed together do not all come back at once' }),
  })
  .strict()
  .refine((b) => b.maxDelayMs === undefined || b.maxDelayMs >= b.delayMs, { path: ['maxDelayMs'], error: 'must be at least delayMs' });

export const RetryOnInput = z
  .object({
    exitCodes: z
      .union([z.literal('nonzero'), z.array(ExitCode).min(1, 'must not be empty (leave it out instead)').max(MAX_RETRY_EXIT_CODES, `at most ${MAX_RETRY_EXIT_CODES} codes`)], {
        error: `must be "nonzero" or a list of 1 to ${MAX_RETRY_EXIT_CODES} exit codes, each from 1 to 255`,
      })
      .optional()
      .meta({ description: 'Retry a `failed` attempt that exited with one of these codes, or `"nonzero"`: any failure (also one without an exit code whose cause may pass, such as an SSH connection refused)' }),
    lost: flag('Retry an attempt that ended `lost` (its agent or worker vanished while it ran)'),
    agentOffline: flag('Retry an attempt that failed `agent_offline` (its agent was not online within the dispatch timeout)'),
    timedOut: flag('Retry an attempt that ended `timed_out`'),
  })
  .strict()
  .refine((on) => on.exitCodes !== undefined || on.lost === true || on.agentOffline === true || on.timedOut === true, {
    error: 'must retry on something: exitCodes, or lost, agentOffline or timedOut set to true (leave `on` out to retry failures)',
  });

/**
 * `retry` of a job, of each child of a run, and so of a schedule's job or run body: how often, how
 * long apart and on which ends a job is run again. Every field bounded; a bad one is a 400 naming
 * it (`retry.backoff.delayMs: …`). Stored resolved (domain/retry-policy.ts resolveRetryPolicy).
 */
export const RetryInput = z
  .object({
    max: z
      .number({ error: `must be a whole number from 0 to ${MAX_RETRIES}` })
      .int(`must be a whole number from 0 to ${MAX_RETRIES}`)
      .min(0, 'must be at least 0')
      .max(MAX_RETRIES, `must be at most ${MAX_RETRIES}`)
      .meta({ description: `The most retries (0–${MAX_RETRIES}): at most max + 1 attempts` }),
    backoff: RetryBackoffInput.optional().meta({ description: 'Absent: exponential from 1000 ms, no jitter' }),
    on: RetryOnInput.optional().meta({ description: 'Which ends are retried. Absent: `{"exitCodes": "nonzero"}`. A canceled job is never retried' }),
  })
  .strict()
  .meta({
    description:
      'Run the job again when an attempt fails. While it waits for the next attempt it is `queued` with `retryAt` shown, holding no worker slot (the wait is in Postgres); each attempt keeps its own exit code, error, times and output (`GET /v1/jobs/{id}/attempts`, `…/logs?attempt=N`, `…/stream?attempt=N`). A canceled job is never retried. On a run: each child is retried before it counts against maxErrors.',
    example: { max: 3, backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 30000, jitter: 0.2 }, on: { exitCodes: 'nonzero', lost: true } },
  });
export type RetryInput = z.infer<typeof RetryInput>;
