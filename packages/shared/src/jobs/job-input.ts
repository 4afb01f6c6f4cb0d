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
      .record(
        z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]{0,255}$/, 'variable names are letters, digits and "_", not starting with a digit')
          // vmo sets it for every job and finds a job's processes by it (killOrphanedJobProcesses).
          .refine((k) => k !== 'VMO_JOB_ID', 'VMO_JOB_ID is set by vmo for every job and cannot be given'),
        storableText(z.string().max(32 * 1024), 'values'),
      )
      .refine((e) => Object.keys(e).length <= 256, 'at most 256 variables')
      .default({}),
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
