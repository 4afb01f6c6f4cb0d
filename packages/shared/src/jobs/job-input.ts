import { z } from 'zod';
import { storableText } from '../errors/storable-text.ts';

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
  })
  .strict();
export type JobInput = z.infer<typeof JobInput>;
