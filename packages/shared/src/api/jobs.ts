import { z } from 'zod';
import { IdempotencyKey } from '../domain/idempotency-key.ts';
import { storableString, unstorableReason } from '../errors/storable-text.ts';
import { SubmitJobInput } from '../jobs/job-input.ts';
import { JOB_STATUSES } from '../domain/job-status.ts';
import { RETRY_BACKOFF_TYPES } from '../domain/retry-policy.ts';
import { TARGET_KINDS } from '../domain/target-kind.ts';
import { DEFAULT_CANCEL_GRACE_MS } from '../domain/timings.ts';
import { JOB_ERROR_CODES } from '../errors/error-codes.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { labelSelectorParam } from './label-selector-param.ts';
import { defineRoute, intParam, json } from './route.ts';

/** A run id: `run_` and 20 lower-case alphanumerics (domain/ids.ts). */
export const RUN_ID = /^run_[0-9a-z]{20}$/;

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });
const LabelMap = z.record(z.string(), z.string());

export const JobStatus = z.enum(JOB_STATUSES).meta({ id: 'JobStatus', description: '`queued → running → succeeded | failed | canceled | timed_out | lost`, and `queued → skipped` for a fleet run\'s child its run never started; the last six are final.' });
export type JobStatus = z.infer<typeof JobStatus>;

export const JobTargetView = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('local') }),
    z.object({ type: z.literal('agent'), agent: z.string().meta({ description: 'as given: an agent id or name' }) }),
    z.object({ type: z.literal('ssh'), host: z.string().meta({ description: 'as given: a host id, name or name@environment' }) }),
  ])
  .meta({ id: 'JobTarget' });

/** A job's (or run's) retry policy as stored: domain/retry-policy.ts RetryPolicy, every default filled in. */
export const RetryPolicyView = z
  .object({
    max: z.number().int(),
    backoff: z.object({ type: z.enum(RETRY_BACKOFF_TYPES), delayMs: z.number().int(), maxDelayMs: z.number().int().nullable(), jitter: z.number() }),
    on: z.object({ exitCodes: z.union([z.literal('nonzero'), z.array(z.number().int())]).nullable(), lost: z.boolean(), agentOffline: z.boolean(), timedOut: z.boolean() }),
  })
  .meta({ id: 'RetryPolicy' });

/** Issue 15: the saved command (POST /v1/commands/{name}/run) a job or run ran, by name and version. */
export const SavedCommandRef = z
  .object({ name: z.string().meta({ example: 'docker-ps' }), version: z.number().int().meta({ example: 3 }) })
  .meta({ id: 'SavedCommandRef', description: 'The saved command and the version it ran (GET /v1/commands/{name}/versions shows that exact script); null: not started from a saved command' });

export const Job = z
  .object({
    id: z.string().meta({ example: 'job_0123456789abcdefghij' }),
    status: JobStatus,
    command: z.string(),
    target: JobTargetView,
    agentId: z.string().nullable().meta({ description: 'The agent an agent job runs on (resolved from the target)' }),
    hostId: z.string().nullable().meta({ description: 'The host an ssh job runs on (resolved from the target)' }),
    env: LabelMap,
    secretEnvNames: z.array(z.string()).meta({ description: "The names of the job's secretEnv variables (never their values); empty when it has none" }),
    cwd: z.string().nullable(),
    timeoutMs: z.number().int(),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable().meta({ example: 'SIGTERM' }),
    error: z
      .object({
        code: z.string().meta({ description: `Why the job ended without its command deciding. One of: ${JOB_ERROR_CODES.join(', ')} (packages/shared/src/errors/error-codes.ts says what each means).` }),
        message: z.string(),
      })
      .nullable(),
    outputBytes: z.number().int(),
    outputTruncated: z.boolean().meta({ description: 'True when output passed VMO_MAX_OUTPUT_BYTES: the head and the tail were kept, with a marker on stderr between them' }),
    labels: LabelMap,
    createdBy: z.string().nullable(),
    parentId: z.string().nullable(),
    runId: z.string().nullable().meta({ description: 'The fleet run this job is a child of (`run_…`); null for a single job', example: 'run_0123456789abcdefghij' }),
    runIndex: z.number().int().nullable().meta({ description: "The child's place in its run (0-based: targets sorted by kind, then name); null for a single job" }),
    targetName: z.string().nullable().meta({ description: "A run child's target as the run resolved it: the agent's name, or the host's `name@environment`; null for a single job" }),
    targetKind: z.enum(TARGET_KINDS).nullable().meta({ description: "A run child's target kind; null for a single job" }),
    attempt: z.number().int(),
    priority: z.number().int().meta({ description: '1 (lowest) to 10 (highest): waiting jobs start highest first, first in first out within one priority (a run\'s child has its run\'s)', example: 5 }),
    runAt: when("Not before this time (as submitted; a run's child shows its run's). While it is ahead the job is `queued`, holds no worker slot and no place in its target's line, and may be canceled").nullable(),
    retry: RetryPolicyView.nullable().meta({ description: 'The retry policy, with its defaults filled in (null: never retried)' }),
    retryAt: when('While the job waits `queued` for its next attempt: when that attempt may start. Null otherwise').nullable(),
    savedCommand: SavedCommandRef.nullable(),
    retainDays: z.number().int().nullable().meta({ description: "Days the job and its output are kept once ended (its own `retainDays`, or its run's); null: the workers' VMO_RETENTION_DAYS and VMO_OUTPUT_RETENTION_DAYS" }),
    outputExpired: z.boolean().meta({ description: 'True once retention deleted the output (VMO_OUTPUT_RETENTION_DAYS): the job is kept, its logs answer 410 `output_expired` and its stream sends no output' }),
    queuePosition: z
      .number()
      .int()
      .nullable()
      .meta({
        description:
          "While the job waits `queued` for its agent's or host's `maxConcurrentJobs`: how many of that target's waiting jobs are ahead of it: higher `priority` first, then first in first out (0: it starts at the target's next free slot). Null when it is not waiting on a limited target (running, ended, held by its run or until its `runAt`, or no limit). Given by GET /v1/jobs/{id} and GET /v1/jobs; null in other answers.",
        example: 0,
      }),
    createdAt: when('When the job was accepted'),
    startedAt: when('When it started running').nullable(),
    finishedAt: when('When it ended').nullable(),
  })
  .meta({ id: 'Job' });
export type Job = z.infer<typeof Job>;

export const JobPage = z.object({ items: z.array(Job), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }) }).meta({ id: 'JobPage' });

/** One attempt of a job (issue 14): GET /v1/jobs/{id}/attempts. */
export const JobAttempt = z
  .object({
    attempt: z.number().int().meta({ description: '1 for the first', example: 1 }),
    status: JobStatus.meta({ description: "How the attempt ended (`failed`, `timed_out` or `lost` for one that was retried); the current attempt's is the job's status" }),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    outputBytes: z.number().int().meta({ description: "Bytes of this attempt's output (GET /v1/jobs/{id}/logs?attempt=N)" }),
    outputTruncated: z.boolean(),
    startedAt: when('When it started; null for one that never did (its agent stayed offline, or it is still to come)').nullable(),
    finishedAt: when('When it ended').nullable(),
    retryAt: when('When the next attempt was (or, while the job waits for it, is) due: this end plus the backoff drawn. Null for an attempt that was not retried').nullable(),
  })
  .meta({ id: 'JobAttempt' });
export type JobAttempt = z.infer<typeof JobAttempt>;
export const JobAttemptList = z.object({ items: z.array(JobAttempt).meta({ description: 'Oldest first; the last is the current attempt' }) }).meta({ id: 'JobAttemptList' });

/** One line of `GET /v1/jobs/{id}/logs?format=ndjson`. */
export const LogChunk = z
  .object({
    seq: z.number().int().meta({ description: 'Dense per job: 0, 1, 2 …' }),
    stream: z.enum(['stdout', 'stderr']),
    data: z.string().meta({ description: 'The bytes, base64' }),
    ts: when('When the chunk was stored'),
  })
  .meta({ id: 'LogChunk' });
export type LogChunk = z.infer<typeof LogChunk>;

export const JobIdParams = z.object({
  id: storableString().meta({ description: 'The job id (`job_…`)', example: 'job_0123456789abcdefghij' }),
});

/** `failed,lost`: one status or several, comma-separated. */
const StatusList = z
  .string()
  .refine((s) => s.split(',').every((one) => (JOB_STATUSES as readonly string[]).includes(one)), `must be one or more of ${JOB_STATUSES.join(', ')}, comma-separated`)
  .transform((s) => [...new Set(s.split(','))] as JobStatus[])
  .meta({ type: 'string', description: `One or more of ${JOB_STATUSES.join(', ')}, comma-separated`, example: 'failed,lost' });

/** `k=v`: a job label with exactly this value (anything a label value may be, `=` included, after the first `=`). */
function labelEqualsProblem(s: string): string | undefined {
  const eq = s.indexOf('=');
  if (eq < 0 || !/^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,62}$/.test(s.slice(0, eq))) return 'must be key=value with a label key (1-63 letters, digits, "_", ".", "/" or "-")';
  if (s.length - eq - 1 > 255) return 'must be key=value with a value of at most 255 characters';
  return unstorableReason(s);
}

/** `?label=` once or repeated (the reader hands a repeated parameter over as an array); each problem is named `label`. */
const LabelEqualsList = z.preprocess(
  (v) => (typeof v === 'string' ? [v] : v),
  z
    .array(z.string())
    .max(64, 'at most 64 label filters')
    .superRefine((list, ctx) => {
      const problem = list.map(labelEqualsProblem).find((p) => p !== undefined);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .transform((list) => list.map((s) => ({ key: s.slice(0, s.indexOf('=')), value: s.slice(s.indexOf('=') + 1) }))),
);

export const ListJobsQuery = z
  .object({
    status: StatusList.optional(),
    agent: storableString().min(1).max(255).optional().meta({ description: 'An agent id or name; an unknown name is 422 `unknown_agent`' }),
    target: storableString().min(1).max(255).optional().meta({ description: 'Jobs on this agent or SSH host: an agent id or name, a host id, name or name@environment; naming neither is 422 `unknown_target`' }),
    // An array parameter: OpenAPI's default for a query (style form, explode) is the repeated `?label=…&label=…` the API reads.
    label: LabelEqualsList.optional().meta({ type: 'array', items: { type: 'string', example: 'team=ops' }, maxItems: 64, description: '`key=value`; repeat it for several, all must match' }),
    labels: labelSelectorParam('Jobs whose labels match this selector.').optional(),
    createdBy: storableString()
      .min(1)
      .max(255)
      .optional()
      .meta({
        description:
          "Jobs this user submitted: a user id or name (a renamed user's jobs too: it matches who owns the job, not the name it was stored with). A user that does not exist is 422 `unknown_user`; so is, for a caller who is not an admin, a user other than themselves with no job they may see. The bootstrap admin token is no user: its jobs have no creator to filter on.",
        example: 'alice',
      }),
    run: z.string().regex(RUN_ID, 'must be a run id (run_…)').optional().meta({ description: "The children of this fleet run (newest first like every page here; GET /v1/runs/{id}/jobs lists them in the run's order); a run that does not exist is 422 `unknown_run`" }),
    limit: intParam(1, 500, 50),
    cursor: z.string().regex(/^job_[0-9a-z]{20}$/, 'must be a nextCursor from a previous page').optional(),
  })
  .strict();

const ATTEMPT = 'must be an attempt number: a whole number from 1 (the first attempt)';
/** `?attempt=N` (issue 14): one attempt of a retried job; absent: the latest. */
export const attemptParam = (description: string) =>
  z.coerce
    .number({ error: ATTEMPT })
    .int(ATTEMPT)
    .min(1, ATTEMPT)
    .max(1_000_000, ATTEMPT)
    .optional()
    .meta({ type: 'integer', minimum: 1, description });

export const JobLogsQuery = z
  .object({
    attempt: attemptParam("Which attempt's output (each attempt of a retried job has its own; seqs start at 0 in each): 1 for the first. Absent: the latest. An attempt the job has not reached is 404"),
    stream: z.enum(['stdout', 'stderr']).optional().meta({ description: 'One stream only; both when absent' }),
    after: intParam(-1, 2 ** 31 - 1, -1).meta({ description: 'Only chunks with a higher seq (the last seq you have)' }),
    format: z.enum(['raw', 'ndjson']).default('raw').meta({ description: '`raw`: the bytes as written; `ndjson`: one LogChunk per line' }),
  })
  .strict();

export const CancelJobBody = z
  .object({ graceMs: z.number().int().min(0).max(3_600_000).default(DEFAULT_CANCEL_GRACE_MS).meta({ description: 'Between SIGTERM and SIGKILL' }) })
  .strict()
  .meta({ id: 'CancelJob' });

export const SubmitJobHeaders = z.object({
  'Idempotency-Key': IdempotencyKey.optional().meta({
    description: 'The same key with the same body returns the original job (with `Idempotent-Replayed: true`), even for concurrent requests; with a different body, 422. Per caller, kept 24 h.',
  }),
});

const JOB_NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;
/** A policy's refusal to run or cancel on the target (POST /v1/policies), beside the role's. */
const TARGET_FORBIDDEN = { 403: ['forbidden', 'target_forbidden'] } as const;

export const submitJob = defineRoute({
  method: 'post',
  path: '/v1/jobs',
  operationId: 'submitJob',
  tags: ['jobs'],
  summary: 'Submit a job',
  description:
    'The job is durable in Postgres when this answers 201. The body need not be sent as application/json (curl -d is fine) but must be a JSON object. An operator may run only where a policy grants `run` (403 `target_forbidden` naming the target); an agent or host the caller may not read is the same 422 `unknown_agent` / `unknown_host` as one that does not exist, and a bare host name resolves, and `ambiguous_host` is judged, among the hosts the caller may read. The `local` target is admins\' only unless a policy with `local: true` grants it. `{"type":"workspace","workspace":…}` (your own workspace, by id or name; admins: any) runs on the workspace\'s agent (stored as that agent target; the workspace is yours, so no policy is needed); one you may not see is 422 `unknown_workspace`.',
  request: {
    headers: SubmitJobHeaders,
    body: { required: true, content: json(SubmitJobInput.meta({ id: 'JobInput' })) },
  },
  responses: {
    201: {
      description: 'Accepted: the job, queued',
      headers: z.object({
        Location: z.string().meta({ description: '`/v1/jobs/{id}`' }),
        'Idempotent-Replayed': z.literal('true').optional().meta({ description: 'Present when an earlier request with this Idempotency-Key made the job' }),
      }),
      content: json(Job),
    },
    ...errorResponses({ ...AUTHENTICATED, ...TARGET_FORBIDDEN, 400: ['validation_failed', 'invalid_json'], 422: ['unknown_agent', 'unknown_host', 'ambiguous_host', 'unknown_workspace', 'idempotency_key_reused', 'secrets_disabled'] }),
  },
});

export const listJobs = defineRoute({
  method: 'get',
  path: '/v1/jobs',
  operationId: 'listJobs',
  tags: ['jobs'],
  summary: 'List jobs, newest first',
  description:
    'Keyset pagination: pass `nextCursor` as `cursor`. Filters combine (all must hold). Unknown parameters are refused (a typo is not ignored), and so is a parameter repeated that takes one value. Only the jobs the caller may see: their own, and those on targets a policy lets them read (admins: all).',
  request: { query: ListJobsQuery },
  responses: {
    200: { description: 'A page of jobs', content: json(JobPage) },
    ...errorResponses({ ...AUTHENTICATED, 422: ['unknown_agent', 'unknown_target', 'ambiguous_host', 'unknown_run', 'unknown_user'] }),
  },
});

export const getJob = defineRoute({
  method: 'get',
  path: '/v1/jobs/{id}',
  operationId: 'getJob',
  tags: ['jobs'],
  summary: 'A job',
  description: 'A job the caller may not see (neither theirs nor on a target a policy lets them read) is 404, as if there were none.',
  request: { params: JobIdParams },
  responses: { 200: { description: 'The job', content: json(Job) }, ...errorResponses(JOB_NOT_FOUND) },
});

export const cancelJob = defineRoute({
  method: 'post',
  path: '/v1/jobs/{id}/cancel',
  operationId: 'cancelJob',
  tags: ['jobs'],
  summary: 'Cancel a job',
  description:
    'Queued: it ends `canceled` at once. Running: SIGTERM to its whole process group, SIGKILL after `graceMs`; it ends `canceled` when the process does. The body is optional. Its owner may cancel it; anyone else needs a policy granting `cancel` on its target (403 `target_forbidden`).',
  request: { params: JobIdParams, body: { required: false, content: json(CancelJobBody) } },
  responses: {
    202: { description: 'The job, as the cancel found it', content: json(Job) },
    ...errorResponses({ ...JOB_NOT_FOUND, ...TARGET_FORBIDDEN, 400: ['validation_failed', 'invalid_json'], 409: ['job_ended'] }),
  },
});

export const jobAttempts = defineRoute({
  method: 'get',
  path: '/v1/jobs/{id}/attempts',
  operationId: 'jobAttempts',
  tags: ['jobs'],
  summary: "A job's attempts",
  description:
    'Every attempt of the job, oldest first: a job with a `retry` policy is run again after a failure, and each attempt keeps its own status, exit code, error, times and output (`GET /v1/jobs/{id}/logs?attempt=N`). The last entry is the current attempt (the job\'s own status; `queued` with `retryAt` while it waits for the next one). A job never retried has one.',
  request: { params: JobIdParams },
  responses: {
    200: { description: 'The attempts', content: json(JobAttemptList) },
    ...errorResponses(JOB_NOT_FOUND),
  },
});

export const jobLogs = defineRoute({
  method: 'get',
  path: '/v1/jobs/{id}/logs',
  operationId: 'jobLogs',
  tags: ['jobs'],
  summary: "A job's stored output",
  description: 'Everything stored so far: the exact bytes (`format=raw`) or one JSON line per chunk (`format=ndjson`). To follow a running job, use the WebSocket stream. Once retention has deleted the output (the job shows `outputExpired: true`): 410 `output_expired`.',
  request: { params: JobIdParams, query: JobLogsQuery },
  responses: {
    200: {
      description: 'The output',
      headers: z.object({
        'X-Job-Status': z.enum(JOB_STATUSES).meta({ description: "The job's status when the answer began" }),
        'X-Job-Attempt': z.string().meta({ description: 'The attempt whose output this is' }),
      }),
      content: {
        'application/octet-stream': { schema: z.string().meta({ format: 'binary', description: 'format=raw: the bytes as the command wrote them' }) },
        'application/x-ndjson': { schema: LogChunk },
      },
    },
    ...errorResponses({ ...JOB_NOT_FOUND, 410: ['output_expired'] }),
  },
});
