import { z } from 'zod';
import { storableString } from '../errors/storable-text.ts';
import { DISCOVERY_SOURCES } from '../domain/make-target.ts';
import { DEFAULT_DISCOVERY_TIMEOUT_MS, MAX_DISCOVERY_TIMEOUT_MS, ProjectInput, ProjectPatch, RegistryImportInput, RunTargetInput } from '../projects/project-input.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { Job, JobTargetView } from './jobs.ts';
import { defineRoute, intParam, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

export const Project = z
  .object({
    id: z.string().meta({ example: 'prj_0123456789abcdefghij' }),
    alias: z.string().meta({ example: 'web' }),
    dir: z.string().meta({ example: '/srv/web' }),
    target: JobTargetView,
    machineId: z.string().nullable().meta({ description: "The agent's or host's id; null for local" }),
    listCommand: z.string().nullable(),
    targetCount: z.number().int().nullable().meta({ description: 'How many targets the last discovery found; null until one succeeded (or since dir or listCommand changed)' }),
    defaultGoal: z.string().nullable().meta({ description: "What a bare `make` builds there (.DEFAULT_GOAL), from the last discovery" }),
    discoverySource: z.enum(DISCOVERY_SOURCES).nullable(),
    discoveredAt: when('When the targets were last discovered').nullable(),
    discoveryJobId: z.string().nullable().meta({ description: 'The job that found them' }),
    createdBy: z.string().nullable(),
    createdAt: when('When it was added'),
    updatedAt: when('When it last changed'),
  })
  .meta({ id: 'Project', description: "`target` names the machine by name: the agent's, the host's name@environment, or local" });
export type Project = z.infer<typeof Project>;

export const ProjectPage = z.object({ items: z.array(Project), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }) }).meta({ id: 'ProjectPage' });

export const MakeTargetView = z
  .object({
    name: z.string().meta({ example: 'build' }),
    description: z.string().meta({ description: 'From `target: deps ## description` on its rule line (or the list command\'s line); empty when none', example: 'Build the site' }),
    phony: z.boolean().meta({ description: 'A prerequisite of .PHONY (always false from a list command)' }),
    file: z.string().nullable().meta({ description: 'The makefile of its recipe, as make reports it; null without one', example: 'Makefile' }),
    line: z.number().int().nullable(),
  })
  .meta({ id: 'MakeTarget' });

export const ProjectTargets = z
  .object({
    alias: z.string(),
    targets: z.array(MakeTargetView).meta({ description: 'Sorted by name' }),
    defaultGoal: z.string().nullable(),
    source: z.enum(DISCOVERY_SOURCES).meta({ description: "`make`: GNU make's database; `list_command`: the project's listCommand" }),
    discoveredAt: when('When the job found them'),
    jobId: z.string().meta({ description: 'The discovery job (its output: GET /v1/jobs/{id}/logs)' }),
    cached: z.boolean().meta({ description: 'Answered from the last discovery, without a job' }),
  })
  .meta({ id: 'ProjectTargets' });

const RegistryResult = z
  .object({
    created: z.array(Project),
    updated: z.array(Project).meta({ description: 'Aliases on that machine whose directory changed (their targets forgotten)' }),
    unchanged: z.array(Project).meta({ description: 'Aliases already on that machine with that directory' }),
    skipped: z.array(z.object({ alias: z.string().nullable(), line: z.number().int(), reason: z.string() })).meta({ description: 'Each line not imported, with its number and why' }),
  })
  .meta({ id: 'ProjectImportResult' });

export const ProjectAliasParams = z.object({ alias: storableString().meta({ description: 'The project\'s alias', example: 'web' }) });
export const ProjectTargetParams = z.object({
  alias: storableString().meta({ description: 'The project\'s alias', example: 'web' }),
  target: storableString().meta({ description: 'A discovered target (URL-encoded: `docs%2Fhtml`)', example: 'build' }),
});

export const ListProjectsQuery = z
  .object({
    limit: intParam(1, 1000, 500),
    cursor: z.string().max(63).optional().meta({ description: 'A nextCursor from a previous page' }),
  })
  .strict();

export const ProjectTargetsQuery = z
  .object({
    refresh: z
      .enum(['true', 'false'], { error: 'must be true or false' })
      .default('false')
      .transform((v) => v === 'true')
      .meta({ type: 'boolean', description: 'Discover again even when targets are cached' }),
    timeoutMs: intParam(1000, MAX_DISCOVERY_TIMEOUT_MS, DEFAULT_DISCOVERY_TIMEOUT_MS).meta({
      type: 'integer',
      minimum: 1000,
      maximum: MAX_DISCOVERY_TIMEOUT_MS,
      default: DEFAULT_DISCOVERY_TIMEOUT_MS,
      description: 'How long the discovery job may take before it is canceled and the answer is 422 `discovery_failed` (cause `timeout`)',
    }),
  })
  .strict();

const ACCESS =
  "A project is seen by whoever may read its machine (any other gets the 404 of a project that does not exist), and acted on (discovered, run, changed, deleted) by whoever may `run` there, judged exactly as POST /v1/jobs judges a job for that machine (403 `target_forbidden` naming it).";
const NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;
const BAD_BODY = { 400: ['validation_failed', 'invalid_json'] } as const;
const AS_JOB = { 403: ['forbidden', 'target_forbidden'], 422: ['unknown_agent', 'unknown_host', 'ambiguous_host'] } as const;

export const createProject = defineRoute({
  method: 'post',
  path: '/v1/projects',
  operationId: 'createProject',
  tags: ['projects'],
  summary: 'Add a Makefile project: a directory on an agent, an SSH host or local',
  description: `\`target\` is a job target (the machine); \`dir\` absolute or in the home (\`~/src/app\`). ${ACCESS} Adding one takes \`run\` on the machine. Aliases are unique across the control plane (409 \`project_exists\`). Nothing runs until its targets are asked for.`,
  request: { body: { required: true, content: json(ProjectInput.meta({ id: 'ProjectInput' })) } },
  responses: {
    201: { description: 'Added', headers: z.object({ Location: z.string().meta({ description: '`/v1/projects/{alias}`' }) }), content: json(Project) },
    ...errorResponses({ ...AUTHENTICATED, ...BAD_BODY, ...AS_JOB, 409: ['project_exists'] }),
  },
});

export const listProjects = defineRoute({
  method: 'get',
  path: '/v1/projects',
  operationId: 'listProjects',
  tags: ['projects'],
  summary: 'List projects, by alias',
  description: 'Those on machines you may read.',
  request: { query: ListProjectsQuery },
  responses: { 200: { description: 'A page of projects', content: json(ProjectPage) }, ...errorResponses(AUTHENTICATED) },
});

export const importProjects = defineRoute({
  method: 'post',
  path: '/v1/projects/import',
  operationId: 'importProjects',
  tags: ['projects'],
  summary: 'Import an mkcli-style registry file (alias=directory lines) for one machine',
  description:
    'One project per `alias=directory` line on `target`: `#` comments and blank lines skipped, `$HOME` read as `~`, every bad line in `skipped` with its number and why. An alias already on that machine takes the new directory (`updated`, its targets forgotten) or is `unchanged`; one on another machine is skipped, never moved. Takes `run` on the machine. All or nothing.',
  request: { body: { required: true, content: json(RegistryImportInput.meta({ id: 'ProjectImport' })) } },
  responses: {
    200: { description: 'What was created, updated, left alone and skipped', content: json(RegistryResult) },
    ...errorResponses({ ...AUTHENTICATED, ...BAD_BODY, ...AS_JOB }),
  },
});

export const getProject = defineRoute({
  method: 'get',
  path: '/v1/projects/{alias}',
  operationId: 'getProject',
  tags: ['projects'],
  summary: 'A project',
  description: ACCESS,
  request: { params: ProjectAliasParams },
  responses: { 200: { description: 'The project', content: json(Project) }, ...errorResponses(NOT_FOUND) },
});

export const updateProject = defineRoute({
  method: 'patch',
  path: '/v1/projects/{alias}',
  operationId: 'updateProject',
  tags: ['projects'],
  summary: "Change a project's directory or list command",
  description: `Either change forgets the targets found (the next GET …/targets discovers again). To move a project to another machine, delete it and add it there. ${ACCESS}`,
  request: { params: ProjectAliasParams, body: { required: true, content: json(ProjectPatch.meta({ id: 'ProjectPatch' })) } },
  responses: { 200: { description: 'The project after the change', content: json(Project) }, ...errorResponses({ ...NOT_FOUND, ...BAD_BODY, ...AS_JOB }) },
});

export const deleteProject = defineRoute({
  method: 'delete',
  path: '/v1/projects/{alias}',
  operationId: 'deleteProject',
  tags: ['projects'],
  summary: 'Remove a project',
  description: `Its jobs stay. ${ACCESS}`,
  request: { params: ProjectAliasParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses({ ...NOT_FOUND, ...AS_JOB }) },
});

const DISCOVERY =
  "Discovery is a job on the project's machine, submitted as you (listed, audited as `projects.discover`, its output kept): with a `listCommand`, that command's output (one target per line, then its description); otherwise GNU make's own database (`make -pRrq :`, no recipe run; environment variables left out of the output), which includes targets from included makefiles and leaves out special targets (.PHONY, .DEFAULT …), pattern rules, names make only saw as prerequisites, and the makefiles themselves; descriptions come from `## text` after the target on its rule line. As with shell completion of make targets, reading the makefiles runs their `$(shell …)` and remakes a makefile that has a rule for it.";

export const listProjectTargets = defineRoute({
  method: 'get',
  path: '/v1/projects/{alias}/targets',
  operationId: 'listProjectTargets',
  tags: ['projects'],
  summary: "A project's make targets (discovered by a job, then cached)",
  description: `The cached targets, or, when there are none or with \`?refresh=true\`, a discovery now, waited for within \`timeoutMs\` (needs \`jobs:run\` and \`run\` on the machine; a cached answer only read). ${DISCOVERY} A discovery that cannot answer is 422 \`discovery_failed\` with \`details.cause\` (\`dir_missing\`, \`no_makefile\`, \`make_failed\`, \`agent_offline\`: the job is canceled at once, \`timeout\`, …) and \`details.jobId\`.`,
  request: { params: ProjectAliasParams, query: ProjectTargetsQuery },
  responses: {
    200: { description: 'The targets', content: json(ProjectTargets) },
    ...errorResponses({ ...NOT_FOUND, ...AS_JOB, 422: ['unknown_agent', 'unknown_host', 'ambiguous_host', 'discovery_failed'] }),
  },
});

export const runProjectTarget = defineRoute({
  method: 'post',
  path: '/v1/projects/{alias}/targets/{target}/run',
  operationId: 'runProjectTarget',
  tags: ['projects'],
  summary: 'Run `make <target>` in the project, as a job',
  description:
    "A job on the project's machine running `cd -- <dir> && exec make -- <target> NAME=value …`, every word quoted (no argument is ever shell text; `$` is doubled so make keeps values as written): follow it like any job (GET /v1/jobs/{id}/stream, logs, cancel). `target` must be one of the discovered targets (422 `unknown_make_target`: refresh them); a project never discovered is discovered first. Takes `jobs:run` and `run` on the machine, as POST /v1/jobs.",
  request: { params: ProjectTargetParams, body: { required: false, content: json(RunTargetInput.meta({ id: 'RunProjectTargetInput' })) } },
  responses: {
    201: { description: 'The job, queued', headers: z.object({ Location: z.string().meta({ description: '`/v1/jobs/{id}`' }) }), content: json(Job) },
    ...errorResponses({ ...NOT_FOUND, ...BAD_BODY, ...AS_JOB, 422: ['unknown_agent', 'unknown_host', 'ambiguous_host', 'unknown_make_target', 'discovery_failed'] }),
  },
});
