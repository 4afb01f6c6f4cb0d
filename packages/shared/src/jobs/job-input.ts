import { z } from 'zod';
import { storableText } from '../errors/storable-text.ts';
import { DEFAULT_PRIORITY, MAX_PRIORITY, MAX_RUN_AT_AHEAD_MS, MIN_PRIORITY } from '../domain/run-at-and-priority.ts';
import { MAX_RETAIN_DAYS, MIN_RETAIN_DAYS } from '../domain/retention.ts';
import { RetryInput } from './retry-input.ts';

export const MAX_COMMAND_BYTES = 64 * 1024;
export const DEFAULT_TIMEOUT_MS = 3_600_000;
export const MAX_TIMEOUT_MS = 7 * 24 * 3_600_000;

import { LabelsInput } from '../domain/labels.ts';

export { LabelsInput };

export const TargetInput = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('local') }).strict(),
    z.object({ type: z.literal('agent'), agent: storableText(z.string().min(1, 'must name an agent').max(255)) }).strict(),
    z.object({ type: z.literal('ssh'), host: storableText(z.string().min(1, 'must name a host').max(255)) }).strict(),
  ],
  { error: 'must be {"type":"local"}, {"type":"agent","agent":"<id or name>"} or {"type":"ssh","host":"<id, name or name@environment>"}' },
);

/** A variable name of `env` and `secretEnv`. */
const EnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,255}$/, 'variable names are letters, digits and "_", not starting with a digit')
  // vmo sets it for every job and finds a job's processes by it (killOrphanedJobProcesses).
  .refine((k) => k !== 'VMO_JOB_ID', 'VMO_JOB_ID is set by vmo for every job and cannot be given');

/**
 * A secret value shorter than this is refused: it is masked in the job's output wherever it
 * appears (output/secret-masker.ts), and a value of a few bytes ("1", "no") would mask ordinary
 * text all through the log. A value that short is no secret anyway: put it in `env`.
 */
export const MIN_SECRET_VALUE_BYTES = 4;
/** Each secret value; the masker holds back at most this - 1 bytes per stream (output/secret-masker.ts). */
export const MAX_SECRET_VALUE_BYTES = 16 * 1024;
export const MAX_SECRET_VARIABLES = 64;
export const MAX_SECRET_ENV_BYTES = 64 * 1024;

/**
 * `secretEnv`: variables the command gets like `env`, but never shown, logged or stored in the
 * clear (jobs/secrets/). The messages never quote a value. A name also in `env` is refused by
 * submitJob (a check across two fields: JobInput stays a plain object that RunInput can pick from).
 */
export const SecretEnvInput = z
  .record(
    EnvName,
    storableText(
      z
        .string({ error: 'values must be strings' })
        .refine((v) => Buffer.byteLength(v) >= MIN_SECRET_VALUE_BYTES, `values must be at least ${MIN_SECRET_VALUE_BYTES} bytes (a shorter value cannot be masked in the output; put a value that is not secret in env)`)
        .refine((v) => Buffer.byteLength(v) <= MAX_SECRET_VALUE_BYTES, `values must be at most ${MAX_SECRET_VALUE_BYTES} bytes`),
      'values',
    ),
  )
  .refine((e) => Object.keys(e).length <= MAX_SECRET_VARIABLES, `at most ${MAX_SECRET_VARIABLES} variables`)
  .refine((e) => Object.entries(e).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0) <= MAX_SECRET_ENV_BYTES, `at most ${MAX_SECRET_ENV_BYTES} bytes of names and values in all`)
  .meta({
    description:
      'Variables the command gets like `env`, whose values are never returned, logged or stored in the clear: encrypted at rest until the job ends, then deleted, and replaced with `***` in the output. Needs VMO_SECRET_KEY (else 422 `secrets_disabled`). Values of 4 bytes to 16 KiB; names as in `env`, and not also in `env`.',
    example: { DEPLOY_TOKEN: '…' },
  });

const RUN_AT_FORMAT = 'must be an ISO 8601 time with a UTC offset, such as 2030-01-31T22:00:00Z or 2030-01-31T23:00:00+01:00';
const isoWithOffset = [z.iso.datetime({ offset: true }), z.iso.datetime({ offset: true, precision: -1 })];

/**
 * `runAt`: not before this time. Until then the job (a run: every child) stays `queued`, shows
 * `runAt`, may be canceled, and holds no worker slot and no place in its target's line: it is not
 * in the queue at all (jobs/run-at). A time in the past runs now. Kept as given (the Idempotency-Key
 * hash is of the body as sent); Postgres reads the offset.
 */
export const RunAtInput = z
  .string({ error: RUN_AT_FORMAT })
  .refine((s) => isoWithOffset.some((f) => f.safeParse(s).success), RUN_AT_FORMAT)
  .refine((s) => !(Date.parse(s) < 0), 'must not be before 1970-01-01 (a time in the past runs now: give the current time, or leave runAt out)')
  .refine((s) => !(Date.parse(s) > Date.now() + MAX_RUN_AT_AHEAD_MS), 'must be at most a year ahead')
  .meta({
    description:
      'Run it no earlier than this (ISO 8601 with a UTC offset). Until then it is `queued` with `runAt` shown, cancellable, and holds no worker slot nor a place in its target\'s line; a time in the past runs now. At most a year ahead. On a run: the whole run waits, and its strategy (maxConcurrency, canary) starts then.',
    example: '2030-01-31T22:00:00Z',
  });

/**
 * `priority`: 1 (lowest) to 10 (highest), 5 when absent. Only the order of starts changes: among
 * the jobs waiting for a free worker, or for a free slot on the same limited agent or host
 * (`maxConcurrentJobs`), a higher priority starts first, and equal priorities start first in,
 * first out. A running job is never preempted.
 */
export const PriorityInput = z
  .number({ error: `must be a whole number from ${MIN_PRIORITY} to ${MAX_PRIORITY}` })
  .int(`must be a whole number from ${MIN_PRIORITY} to ${MAX_PRIORITY}`)
  .min(MIN_PRIORITY, `must be at least ${MIN_PRIORITY}`)
  .max(MAX_PRIORITY, `must be at most ${MAX_PRIORITY}`)
  .default(DEFAULT_PRIORITY)
  .meta({
    description: `${MIN_PRIORITY} (lowest) to ${MAX_PRIORITY} (highest), ${DEFAULT_PRIORITY} when absent. When workers (or the target's maxConcurrentJobs) are saturated, waiting jobs start by priority, highest first, and first in first out within one priority. A running job is never preempted. A run's children inherit it.`,
    example: 8,
  });

/**
 * `retainDays` (issue 14, retention): how many days the job and its output are kept once it has
 * ended, instead of the workers' VMO_RETENTION_DAYS and VMO_OUTPUT_RETENTION_DAYS. Longer or
 * shorter than those; a run's children are kept as long as their run.
 */
export const RetainDaysInput = z
  .number({ error: `must be a whole number of days from ${MIN_RETAIN_DAYS} to ${MAX_RETAIN_DAYS}` })
  .int(`must be a whole number of days from ${MIN_RETAIN_DAYS} to ${MAX_RETAIN_DAYS}`)
  .min(MIN_RETAIN_DAYS, `must be at least ${MIN_RETAIN_DAYS}`)
  .max(MAX_RETAIN_DAYS, `must be at most ${MAX_RETAIN_DAYS} (ten years)`)
  .meta({
    description: `Days (${MIN_RETAIN_DAYS}–${MAX_RETAIN_DAYS}) the job and its output are kept once it has ended, instead of the workers' VMO_RETENTION_DAYS (and VMO_OUTPUT_RETENTION_DAYS: the output is kept as long as the job). On a run: the run and every child.`,
    example: 90,
  });

/** Body of POST /v1/jobs. Strict: a misspelt field (`timeout` for `timeoutMs`) is an error, not ignored. */
export const JobInput = z
  .object({
    command: storableText(
      z
        .string({ error: 'is required and must be a string' })
        .min(1, 'must not be empty')
        .refine((c) => c.trim().length > 0, 'must not be blank')
        .refine((c) => Buffer.byteLength(c) <= MAX_COMMAND_BYTES, `must be at most ${MAX_COMMAND_BYTES} bytes`),
    ),
    target: TargetInput.default({ type: 'local' }),
    env: z
      .record(EnvName, storableText(z.string().max(32 * 1024), 'values'))
      .refine((e) => Object.keys(e).length <= 256, 'at most 256 variables')
      .default({}),
    secretEnv: SecretEnvInput.optional(),
    cwd: storableText(z.string().min(1).max(4096)).optional(),
    timeoutMs: z
      .number({ error: 'must be a number of milliseconds' })
      .int('must be a whole number of milliseconds')
      .min(1, 'must be at least 1')
      .max(MAX_TIMEOUT_MS, `must be at most ${MAX_TIMEOUT_MS} (7 days)`)
      .default(DEFAULT_TIMEOUT_MS),
    labels: LabelsInput.default({}),
    runAt: RunAtInput.optional(),
    priority: PriorityInput,
    retry: RetryInput.optional(),
    retainDays: RetainDaysInput.optional(),
  })
  .strict();
export type JobInput = z.infer<typeof JobInput>;

/** A workspace (issue 18) as a job's target: resolved at submission to its agent (POST /v1/jobs only). */
export const WorkspaceTargetInput = z.object({ type: z.literal('workspace'), workspace: storableText(z.string().min(1, 'must name a workspace').max(255)) }).strict();

/**
 * Body of POST /v1/jobs: a JobInput whose target may also be `{"type":"workspace","workspace":…}`.
 * The route resolves a workspace to its agent before anything else, so everything after it (and
 * every other body built on JobInput: runs, schedules, commands, projects) sees an agent target.
 */
export const SubmitJobInput = JobInput.extend({
  target: z
    .discriminatedUnion('type', [...TargetInput.options, WorkspaceTargetInput], {
      error: 'must be {"type":"local"}, {"type":"agent","agent":"<id or name>"}, {"type":"ssh","host":"<id, name or name@environment>"} or {"type":"workspace","workspace":"<id or name>"}',
    })
    .default({ type: 'local' }),
}).strict();
export type SubmitJobInput = z.infer<typeof SubmitJobInput>;
