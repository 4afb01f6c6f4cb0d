import { z } from 'zod';
import { JOB_STATUSES } from '../domain/job-status.ts';
import { LabelSelectorError, parseLabelSelector } from '../domain/label-selector.ts';
import { OFFLINE_POLICIES, RUN_STATUSES } from '../domain/run-status.ts';
import { TARGET_KINDS } from '../domain/target-kind.ts';
import { DEFAULT_CANCEL_GRACE_MS } from '../domain/timings.ts';
import { JOB_ERROR_CODES } from '../errors/error-codes.ts';
import { storableString } from '../errors/storable-text.ts';
import { RunInput } from '../runs/run-input.ts';
import {
  SUMMARY_OUTPUTS_LISTED,
  SUMMARY_OUTPUTS_PER_GROUP,
  SUMMARY_RESULT_GROUPS,
  SUMMARY_SAMPLE_BYTES,
  SUMMARY_TARGETS_LISTED,
  SUMMARY_TIME_LIMIT_MS,
} from '../runs/summary-limits.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { IdempotencyKey } from '../domain/idempotency-key.ts';
import { JobStatus, RetryPolicyView, RUN_ID, SavedCommandRef } from './jobs.ts';
import { defineRoute, intParam, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });
const LabelMap = z.record(z.string(), z.string());
const ErrorView = z.object({ code: z.string(), message: z.string() });

export const RunStatus = z
  .enum(RUN_STATUSES)
  .meta({ id: 'RunStatus', description: '`queued → running → succeeded | failed | canceled`; derived from the children, the last three are final.' });
export type RunStatus = z.infer<typeof RunStatus>;

/**
 * POST /v1/runs' body: RunInput (runs/run-input.ts) with its selector parsed where it is
 * validated, so a selector that does not parse is the same 400 as on GET /v1/targets: `validation_failed`,
 * `details.field` = `targets.selector`, the 0-based position in the message and in `details.position`.
 */
export const SubmitRunBody = RunInput.superRefine((input, ctx) => {
  const selector = input.targets.selector;
  if (selector === undefined) return;
  try {
    parseLabelSelector(selector);
  } catch (err) {
    if (!(err instanceof LabelSelectorError)) throw err;
    ctx.addIssue({ code: 'custom', path: ['targets', 'selector'], message: err.message, params: { position: err.position } });
  }
}).meta({
  id: 'RunInput',
  description:
    'A command for every target, with `env` and `secretEnv` as a single job (secretEnv: every child gets it; never returned; `***` in every child\'s output; gone when the run ends): `targets` a label selector (Kubernetes syntax, over agents and SSH hosts; `kinds` narrows it) and/or explicit `agents` (ids or names) and `hosts` (ids, names or name@environment), resolved once, now. `strategy`: `maxConcurrency` and `maxErrors` as a count or `"n%"` of the targets (SSM rounding: concurrency and canary shares round up and are at least 1, an error share rounds down), `canary` the first `count` targets alone, the rest `bakeMs` after they all succeeded. `offline`: what a child whose agent is offline does (`wait` up to `dispatchTimeoutMs`, `skip`, `fail`).',
});

const CountOrPercentView = z.union([z.number().int(), z.string()]);

export const RunStrategy = z
  .object({
    given: z
      .object({
        maxConcurrency: CountOrPercentView.optional(),
        maxErrors: CountOrPercentView.optional(),
        canary: z.object({ count: CountOrPercentView, bakeMs: z.number().int() }).optional(),
      })
      .meta({ description: 'As submitted (`"10%"` stays `"10%"`); absent fields took their defaults' }),
    resolved: z
      .object({
        maxConcurrency: z.number().int().meta({ description: 'At most this many children released (dispatched and not final) at once' }),
        maxErrors: z.number().int().nullable().meta({ description: 'No child starts once failures exceed this; null: no limit' }),
        canary: z.object({ count: z.number().int(), bakeMs: z.number().int() }).nullable(),
      })
      .meta({ description: 'Against the number of targets, as the run obeys it' }),
  })
  .meta({ id: 'RunStrategy' });

/** Every child status, each present (0 included). */
export const RunCounts = z.object(Object.fromEntries(JOB_STATUSES.map((s) => [s, z.number().int()])) as Record<(typeof JOB_STATUSES)[number], z.ZodNumber>).meta({
  id: 'RunCounts',
  description: 'Children by status; every status is present, 0 included, and they add up to `total`',
});

const RunFields = {
  id: z.string().meta({ example: 'run_0123456789abcdefghij' }),
  status: RunStatus,
  command: z.string(),
  env: LabelMap,
  secretEnvNames: z.array(z.string()).meta({ description: "The names of the run's secretEnv variables (never their values; each child job lists them too); empty when it has none" }),
  cwd: z.string().nullable(),
  timeoutMs: z.number().int(),
  targets: z
    .object({ selector: z.string().optional(), kinds: z.array(z.enum(TARGET_KINDS)).optional(), agents: z.array(z.string()).optional(), hosts: z.array(z.string()).optional() })
    .meta({ description: 'What was asked for, as given; the resolved targets are the children (GET /v1/runs/{id}/jobs)' }),
  strategy: RunStrategy,
  offline: z.enum(OFFLINE_POLICIES),
  dispatchTimeoutMs: z.number().int().nullable().meta({ description: "How long a child waits for its offline agent; null: the worker's VMO_DISPATCH_TIMEOUT_MS" }),
  priority: z.number().int().meta({ description: '1 (lowest) to 10 (highest); every child has it', example: 5 }),
  runAt: when('Not before this time: no child is released before it (the strategy starts then); null: at once').nullable(),
  retry: RetryPolicyView.nullable().meta({ description: "Every child's retry policy (null: none): a child is retried before it counts against maxErrors" }),
  retainDays: z.number().int().nullable().meta({ description: "Days the run and its children are kept once ended; null: the workers' VMO_RETENTION_DAYS" }),
  labels: LabelMap,
  savedCommand: SavedCommandRef.nullable(),
  createdBy: z.string().nullable(),
  total: z.number().int().meta({ description: 'Number of children (targets), fixed at submission' }),
  error: ErrorView.nullable().meta({ description: 'Why the run stopped starting children: `max_errors_exceeded` or `canary_failed`' }),
  canaryPassedAt: when('When every canary had succeeded (the rest start `bakeMs` later)').nullable(),
  cancelRequestedAt: when('When a cancel of the run was asked').nullable(),
  createdAt: when('When the run was accepted'),
  startedAt: when('When its first child left `queued`').nullable(),
  finishedAt: when('When its last child ended').nullable(),
};

/** A run in a listing: everything but its children's counts (GET /v1/runs/{id} has them). */
export const RunListItem = z.object(RunFields).meta({ id: 'RunListItem' });
export type RunListItem = z.infer<typeof RunListItem>;

export const Run = z
  .object({
    ...RunFields,
    counts: RunCounts,
    progress: z
      .object({ done: z.number().int().meta({ description: 'Children in a final status' }), total: z.number().int() })
      .meta({ description: 'done of total children' }),
  })
  .meta({ id: 'Run' });
export type Run = z.infer<typeof Run>;

export const RunPage = z.object({ items: z.array(RunListItem), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }) }).meta({ id: 'RunPage' });

export const RunChild = z
  .object({
    id: z.string().meta({ description: "The child job's id (GET /v1/jobs/{id}, its logs and stream)", example: 'job_0123456789abcdefghij' }),
    index: z.number().int().meta({ description: '0-based; canaries are the first' }),
    target: z.object({ kind: z.enum(TARGET_KINDS), name: z.string().meta({ description: "An agent's name; a host's `name@environment`" }) }),
    status: JobStatus,
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    error: ErrorView.nullable().meta({ description: `Why the child ended without its command deciding. One of: ${JOB_ERROR_CODES.join(', ')}` }),
    startedAt: when('When it started running').nullable(),
    finishedAt: when('When it ended').nullable(),
    durationMs: z.number().int().nullable().meta({ description: 'finishedAt − startedAt; null until it has ended, and for a child that never started' }),
  })
  .meta({ id: 'RunChild' });
export type RunChild = z.infer<typeof RunChild>;

export const RunChildPage = z.object({ items: z.array(RunChild), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }) }).meta({ id: 'RunChildPage' });

const Others = (what: string) =>
  z.object({ groups: z.number().int().meta({ description: `${what} not listed` }), count: z.number().int().meta({ description: 'Children in them' }) });

export const RunOutputGroup = z
  .object({
    hash: z.string().nullable().meta({
      description:
        "sha256 (hex) of each child's stored output: every chunk of both streams in seq order, exactly the bytes `GET /v1/jobs/{id}/logs` answers (however they were chunked). Computed once per child when it is final, then kept. Null for children not final (`queued`, `running`: their output still grows), which are grouped by status alone, and for a child that ended while this answer was computed",
    }),
    bytes: z.number().int().nullable().meta({ description: 'Stored bytes of each child in the group; null when `hash` is' }),
    sample: z.string().nullable().meta({ description: `The first ${SUMMARY_SAMPLE_BYTES} bytes of the output as UTF-8 text: a byte that is not UTF-8 is shown as U+FFFD; a character cut at the boundary is left out. Null when \`hash\` is` }),
    sampleBase64: z.string().nullable().meta({ description: 'The same bytes, exactly, in base64; null when `hash` is' }),
    count: z.number().int().meta({ description: 'Children (targets) in the group' }),
    targets: z.array(z.string()).meta({ description: `Their target names in run order: the first ${SUMMARY_TARGETS_LISTED} (all of them when \`count\` ≤ ${SUMMARY_TARGETS_LISTED}; the result group's \`jobsUrl\` lists every child)` }),
    jobIds: z.array(z.string()).meta({ description: `Their job ids, in the same order (the first ${SUMMARY_TARGETS_LISTED})` }),
  })
  .meta({ id: 'RunOutputGroup' });

export const RunResultGroup = z
  .object({
    status: JobStatus,
    exitCode: z.number().int().nullable(),
    count: z.number().int(),
    jobsUrl: z.string().meta({ description: 'Every child of this status, paged: `/v1/runs/{id}/jobs?status=…`', example: '/v1/runs/run_0123456789abcdefghij/jobs?status=failed' }),
    outputs: z.array(RunOutputGroup).meta({
      description: `By identical output, largest first: at most ${SUMMARY_OUTPUTS_PER_GROUP}, fewer when the summary has many result groups (at most ${SUMMARY_OUTPUTS_LISTED} in all, the same number for each, at least ${SUMMARY_OUTPUTS_LISTED / SUMMARY_RESULT_GROUPS})`,
    }),
    otherOutputs: Others('Output groups').meta({ description: 'The output groups of this result group that `outputs` does not list, and their children' }),
  })
  .meta({ id: 'RunResultGroup' });

export const RunSummary = z
  .object({
    runId: z.string(),
    status: RunStatus,
    total: z.number().int(),
    groups: z.array(RunResultGroup).meta({ description: `Children by (status, exitCode), largest first (at most ${SUMMARY_RESULT_GROUPS}); each group split by identical output` }),
    otherGroups: Others('Result groups').meta({ description: `The (status, exitCode) groups past the first ${SUMMARY_RESULT_GROUPS}, and their children` }),
  })
  .meta({ id: 'RunSummary' });
export type RunSummary = z.infer<typeof RunSummary>;

export const RunIdParams = z.object({
  id: storableString().meta({ description: 'The run id (`run_…`)', example: 'run_0123456789abcdefghij' }),
});

/** `failed,canceled`: one status or several, comma-separated, from `values`. */
const statusList = <const S extends readonly string[]>(values: S, example: string) =>
  z
    .string()
    .refine((s) => s.split(',').every((one) => (values as readonly string[]).includes(one)), `must be one or more of ${values.join(', ')}, comma-separated`)
    .transform((s) => [...new Set(s.split(','))] as S[number][])
    .meta({ type: 'string', description: `One or more of ${values.join(', ')}, comma-separated`, example });

export const ListRunsQuery = z
  .object({
    status: statusList(RUN_STATUSES, 'running,queued').optional(),
    limit: intParam(1, 500, 50),
    cursor: z.string().regex(RUN_ID, 'must be a nextCursor from a previous page').optional(),
  })
  .strict();

export const ListRunJobsQuery = z
  .object({
    status: statusList(JOB_STATUSES, 'failed,timed_out,lost').optional(),
    limit: intParam(1, 1000, 100),
    cursor: z.string().regex(/^job_[0-9a-z]{20}$/, 'must be a nextCursor from a previous page of this run').optional(),
  })
  .strict();

export const CancelRunBody = z
  .object({ graceMs: z.number().int().min(0).max(3_600_000).default(DEFAULT_CANCEL_GRACE_MS).meta({ description: "Each running child's time between SIGTERM and SIGKILL" }) })
  .strict()
  .meta({ id: 'CancelRun' });

export const SubmitRunHeaders = z.object({
  'Idempotency-Key': IdempotencyKey.optional().meta({
    description: 'As for POST /v1/jobs: the same key with the same body returns the original run (with `Idempotent-Replayed: true`), even for concurrent requests; with a different body, 422. Per caller, kept 24 h.',
  }),
});

const RUN_NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;
/** A policy's refusal to run or cancel on targets (POST /v1/policies), beside the role's. */
const TARGET_FORBIDDEN = { 403: ['forbidden', 'target_forbidden'] } as const;

export const submitRun = defineRoute({
  method: 'post',
  path: '/v1/runs',
  operationId: 'submitRun',
  tags: ['runs'],
  summary: 'Run a command on every target a selector or list names',
  description:
    'The targets are resolved now and stored: one child job per target. The run and all its children are durable in Postgres when this answers 201; the run then starts children as its strategy allows. Unknown fields are refused. An operator may run only if a policy grants `run` on every resolved target: otherwise 403 `target_forbidden` naming the first few (details.total counts them) and nothing is created. A machine the caller may not read is never a target: a selector does not match it, and a list naming it (by id, name or name@environment) is the same 422 `unknown_agent` / `unknown_host` as a machine that does not exist; a bare host name is resolved, and `ambiguous_host` judged, among the hosts the caller may read. `secretEnv`: every child gets it, as a single job does (sealed once for the run, never returned, `***` in every child\'s output and in the run stream, dropped when the run ends; 422 `secrets_disabled` without VMO_SECRET_KEY).',
  request: {
    headers: SubmitRunHeaders,
    body: { required: true, content: json(SubmitRunBody) },
  },
  responses: {
    201: {
      description: 'Accepted: the run',
      headers: z.object({
        Location: z.string().meta({ description: '`/v1/runs/{id}`' }),
        'Idempotent-Replayed': z.literal('true').optional().meta({ description: 'Present when an earlier request with this Idempotency-Key made the run' }),
      }),
      content: json(Run),
    },
    ...errorResponses({
      ...AUTHENTICATED,
      ...TARGET_FORBIDDEN,
      400: ['validation_failed', 'invalid_json'],
      422: ['no_targets', 'too_many_targets', 'invalid_strategy', 'unknown_agent', 'unknown_host', 'ambiguous_host', 'idempotency_key_reused', 'secrets_disabled'],
    }),
  },
});

export const listRuns = defineRoute({
  method: 'get',
  path: '/v1/runs',
  operationId: 'listRuns',
  tags: ['runs'],
  summary: 'List runs, newest first',
  description: 'Keyset pagination: pass `nextCursor` as `cursor` (a cursor that is not a run is a 400 naming it). Unknown parameters are refused.',
  request: { query: ListRunsQuery },
  responses: { 200: { description: 'A page of runs', content: json(RunPage) }, ...errorResponses(AUTHENTICATED) },
});

export const getRun = defineRoute({
  method: 'get',
  path: '/v1/runs/{id}',
  operationId: 'getRun',
  tags: ['runs'],
  summary: 'A run, with its children counted by status',
  description: 'A run is visible to its owner and to whoever may read every one of its targets; to anyone else this and every route of the run (children, summary, cancel, stream) is 404, as if there were none.',
  request: { params: RunIdParams },
  responses: { 200: { description: 'The run', content: json(Run) }, ...errorResponses(RUN_NOT_FOUND) },
});

export const listRunJobs = defineRoute({
  method: 'get',
  path: '/v1/runs/{id}/jobs',
  operationId: 'listRunJobs',
  tags: ['runs'],
  summary: "A run's children, in run order",
  description: 'Each child with its target, status, exit code and duration, by index (canaries first). Keyset pagination: pass `nextCursor` as `cursor`.',
  request: { params: RunIdParams, query: ListRunJobsQuery },
  responses: { 200: { description: 'A page of children', content: json(RunChildPage) }, ...errorResponses(RUN_NOT_FOUND) },
});

export const cancelRun = defineRoute({
  method: 'post',
  path: '/v1/runs/{id}/cancel',
  operationId: 'cancelRun',
  tags: ['runs'],
  summary: 'Cancel a run',
  description:
    'No further child starts; queued children end `canceled` without running; running ones are stopped as POST /v1/jobs/{id}/cancel does (SIGTERM, SIGKILL after `graceMs`). The run ends `canceled` once every child has ended. The body is optional. Its owner may cancel it; anyone else needs a policy granting `cancel` on every one of its targets (403 `target_forbidden` naming the first few that lack it).',
  request: { params: RunIdParams, body: { required: false, content: json(CancelRunBody) } },
  responses: {
    202: { description: 'The run, as the cancel left it', content: json(Run) },
    ...errorResponses({ ...RUN_NOT_FOUND, ...TARGET_FORBIDDEN, 400: ['validation_failed', 'invalid_json'], 409: ['run_ended'] }),
  },
});

export const runSummary = defineRoute({
  method: 'get',
  path: '/v1/runs/{id}/summary',
  operationId: 'runSummary',
  tags: ['runs'],
  summary: "A run's children grouped by result and by identical output",
  description:
    `Children grouped by (status, exitCode), and within each group by identical stored output (its sha256), with a sample of the first KiB and the targets that printed it: "997 hosts printed \`ok\`, 3 printed \`disk full\`". Groups are sorted largest first; lists are capped (${SUMMARY_RESULT_GROUPS} result groups, ${SUMMARY_OUTPUTS_PER_GROUP} outputs per group and ${SUMMARY_OUTPUTS_LISTED} in all, ${SUMMARY_TARGETS_LISTED} targets per output) with counts of the rest. Each final child's output is read once, the first time a summary needs it, and its hash kept; a summary not ready within ${SUMMARY_TIME_LIMIT_MS / 1000} s (the first of a run with gigabytes of output) is a 503 \`summary_timeout\`: retry, the hashing done is kept.`,
  request: { params: RunIdParams },
  responses: { 200: { description: 'The summary', content: json(RunSummary) }, ...errorResponses({ ...RUN_NOT_FOUND, 503: ['unavailable', 'summary_timeout'] }) },
});
