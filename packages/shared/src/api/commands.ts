import { z } from 'zod';
import { COMMAND_NAME, CommandParam, CreateCommandInput, DefaultTargetInput, RunCommandInput, UpdateCommandInput } from '../commands/command-input.ts';
import { storableString } from '../errors/storable-text.ts';
import { AgentIdParams } from './agents.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { HostIdParams } from './hosts.ts';
import { Job, SavedCommandRef } from './jobs.ts';
import { defineRoute, intParam, json } from './route.ts';
import { Run } from './runs.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

const Param = CommandParam.meta({ id: 'CommandParam', description: 'A parameter: `string` (`pattern`: RE2, whole value; `secret`), `int` (`min`, `max`), `bool`, `enum` (`values`). Its value reaches the script only as $VMO_PARAM_<NAME>.' });
const Target = DefaultTargetInput.nullable().meta({ description: 'Where a run goes when it names none: a job target (one machine) or a run\'s targets (a selector, agents, hosts); null: a run must say' });

const Definition = {
  name: z.string().meta({ example: 'docker-ps' }),
  version: z.number().int().meta({ description: 'Versions count from 1; each POST or PUT adds one', example: 2 }),
  description: z.string().nullable(),
  script: z.string().meta({ description: 'The shell text as given; parameters are never pasted into it', example: 'docker ps --filter "name=$VMO_PARAM_NAME" --format "{{.Names}} {{.Status}}"' }),
  params: z.array(Param),
  defaultTarget: Target,
  defaultTargetHidden: z
    .literal(true)
    .optional()
    .meta({ description: 'Present (true) when the default target names an agent or host the caller may not read: `defaultTarget` is then null. Selectors are shown: they are labels, not machines' }),
  timeoutMs: z.number().int().nullable().meta({ description: "A run's timeout unless the run gives one; null: the job default (1 h)" }),
  labels: z.record(z.string(), z.string()).meta({ description: 'Put on every job (and run) it starts, with the run\'s own' }),
};

export const Command = z
  .object({
    ...Definition,
    ownerId: z.string().nullable().meta({ description: 'Who created it (users.id; null: the bootstrap admin): they and admins may change or delete it' }),
    createdBy: z.string().nullable(),
    createdAt: when('When it was created'),
    updatedBy: z.string().nullable().meta({ description: 'Who wrote the latest version' }),
    updatedAt: when('When the latest version was written'),
  })
  .meta({ id: 'Command' });
export type Command = z.infer<typeof Command>;

export const CommandVersion = z.object({ ...Definition, createdBy: z.string().nullable().meta({ description: 'Who wrote this version' }), createdAt: when('When this version was written') }).meta({ id: 'CommandVersion' });

export const CommandPage = z
  .object({ items: z.array(Command), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }) })
  .meta({ id: 'CommandPage' });
export const CommandVersionPage = z
  .object({
    items: z.array(CommandVersion).meta({ description: 'Newest first' }),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }),
    deleted: z.boolean().meta({ description: 'The command was deleted: these versions stay readable for the jobs that ran them' }),
  })
  .meta({ id: 'CommandVersionPage' });

export const CommandRun = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('job'), command: SavedCommandRef, job: Job }),
    z.object({ kind: z.literal('run'), command: SavedCommandRef, run: Run }),
  ])
  .meta({ id: 'CommandRun', description: '`job`: one target; `run`: a fleet run (targets, or a selector default). Each records the command and version it ran (`savedCommand`).' });
export type CommandRun = z.infer<typeof CommandRun>;

export const MachineCommands = z.object({ items: z.array(Command).meta({ description: 'By name' }) }).meta({ id: 'MachineCommands' });

export const CommandNameParams = z.object({ name: storableString().meta({ description: 'The command\'s name', example: 'docker-ps' }) });

export const ListCommandsQuery = z
  .object({
    limit: intParam(1, 500, 100),
    cursor: z.string().regex(COMMAND_NAME, 'must be a nextCursor from a previous page').optional(),
  })
  .strict();
export const ListCommandVersionsQuery = z
  .object({
    limit: intParam(1, 500, 50),
    cursor: z.coerce.number().int('must be a nextCursor from a previous page').min(1, 'must be a nextCursor from a previous page').optional().meta({ type: 'integer', minimum: 1 }),
  })
  .strict();

const ACCESS =
  'Anyone with `commands:read` (viewers too) sees every command: put no secret in a script, declare a `secret` parameter instead. Creating takes `commands:write` (admins and operators); changing or deleting a command is its owner\'s (who created it) or an admin\'s: anyone else is 403 `forbidden`. A default target naming a machine the caller may not read is shown as null with `defaultTargetHidden: true`.';
const PARAMS =
  'Each parameter is `{name, type: string|int|bool|enum, required?, default?, description?}`, plus `pattern` and `secret` (string), `min`/`max` (int), `values` (enum). Names are `[a-z][a-z0-9_]*`: a value reaches the script ONLY as the environment variable VMO_PARAM_<NAME> (upper-cased), never pasted into the script, so `\'; rm -rf ~; \'` is just bytes in $VMO_PARAM_X. `pattern` is RE2 syntax (linear-time matching: no look-around, no back-references; a pattern RE2 refuses is 400 naming it) matched against the whole value; string values are at most 4096 bytes. A `secret` value goes to the job\'s secretEnv (sealed until it ends, `***` in its output, never in an answer or a log; at least 4 bytes) and takes no default.';
const BAD_BODY = { 400: ['validation_failed', 'invalid_json'] } as const;
const NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;

export const createCommand = defineRoute({
  method: 'post',
  path: '/v1/commands',
  operationId: 'createCommand',
  tags: ['commands'],
  summary: 'Save a command with typed parameters',
  description: `Version 1 of a new name (a deleted name comes back as its next version, for its last owner or an admin only: anyone else is 409 \`command_exists\`; a name and version always mean one script). ${PARAMS} ${ACCESS}`,
  request: { body: { required: true, content: json(CreateCommandInput.meta({ id: 'CommandInput' })) } },
  responses: {
    201: { description: 'Created', headers: z.object({ Location: z.string().meta({ description: '`/v1/commands/{name}`' }) }), content: json(Command) },
    ...errorResponses({ ...AUTHENTICATED, ...BAD_BODY, 409: ['command_exists'] }),
  },
});

export const listCommands = defineRoute({
  method: 'get',
  path: '/v1/commands',
  operationId: 'listCommands',
  tags: ['commands'],
  summary: 'List saved commands by name',
  description: `Each at its latest version; deleted ones are not listed. Keyset pagination: pass \`nextCursor\` as \`cursor\`. ${ACCESS}`,
  request: { query: ListCommandsQuery },
  responses: { 200: { description: 'A page of commands', content: json(CommandPage) }, ...errorResponses(AUTHENTICATED) },
});

export const getCommand = defineRoute({
  method: 'get',
  path: '/v1/commands/{name}',
  operationId: 'getCommand',
  tags: ['commands'],
  summary: 'A saved command at its latest version',
  description: 'A deleted command is 404 (its versions stay readable).',
  request: { params: CommandNameParams },
  responses: { 200: { description: 'The command', content: json(Command) }, ...errorResponses(NOT_FOUND) },
});

export const updateCommand = defineRoute({
  method: 'put',
  path: '/v1/commands/{name}',
  operationId: 'updateCommand',
  tags: ['commands'],
  summary: 'Write the next version of a command',
  description: `The body is the whole new version (what it leaves out is gone from it); the versions before stay as they were, and jobs that ran them still name them. \`name\`, if given, must be the path's. ${PARAMS} ${ACCESS}`,
  request: { params: CommandNameParams, body: { required: true, content: json(UpdateCommandInput.meta({ id: 'CommandUpdate' })) } },
  responses: { 200: { description: 'The command at its new version', content: json(Command) }, ...errorResponses({ ...NOT_FOUND, ...BAD_BODY }) },
});

export const deleteCommand = defineRoute({
  method: 'delete',
  path: '/v1/commands/{name}',
  operationId: 'deleteCommand',
  tags: ['commands'],
  summary: 'Delete a command',
  description: `It is no longer listed nor run; its versions stay readable (GET …/versions) for the jobs that ran them, and POST /v1/commands may take the name again (as its next version). ${ACCESS}`,
  request: { params: CommandNameParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(NOT_FOUND) },
});

export const listCommandVersions = defineRoute({
  method: 'get',
  path: '/v1/commands/{name}/versions',
  operationId: 'listCommandVersions',
  tags: ['commands'],
  summary: "A command's versions, newest first",
  description: 'Every version as it was written (immutable), a deleted command\'s too. Keyset pagination: pass `nextCursor` as `cursor`.',
  request: { params: CommandNameParams, query: ListCommandVersionsQuery },
  responses: { 200: { description: 'A page of versions', content: json(CommandVersionPage) }, ...errorResponses(NOT_FOUND) },
});

export const runCommand = defineRoute({
  method: 'post',
  path: '/v1/commands/{name}/run',
  operationId: 'runCommand',
  tags: ['commands'],
  summary: 'Run a saved command: a job, or a fleet run',
  description:
    '`params` are judged against the declarations of the version run (the latest, or `version`): a parameter it does not declare, a required one left out, or a value its declaration refuses (type, pattern, enum values, min/max, length) is 400 `invalid_param` naming it (`details.param`), and nothing is created. `target` (one machine) makes a job, as POST /v1/jobs; `targets` (a selector, agents, hosts) makes a fleet run, as POST /v1/runs (with `strategy`, `offline`, `dispatchTimeoutMs`); neither: the command\'s defaultTarget decides. The same checks as those routes: running needs `run` on the target, or on every target of the run (403 `target_forbidden`), a machine the caller may not read is unknown (422). The job (and each child) records the command\'s name and version (`savedCommand`). Needs `jobs:run`.',
  request: { params: CommandNameParams, body: { required: false, content: json(RunCommandInput.meta({ id: 'CommandRunInput' })) } },
  responses: {
    201: { description: 'Accepted: the job or the run', headers: z.object({ Location: z.string().meta({ description: '`/v1/jobs/{id}` or `/v1/runs/{id}`' }) }), content: json(CommandRun) },
    ...errorResponses({
      ...NOT_FOUND,
      400: ['validation_failed', 'invalid_json', 'invalid_param'],
      403: ['forbidden', 'target_forbidden'],
      422: ['no_targets', 'too_many_targets', 'invalid_strategy', 'unknown_agent', 'unknown_host', 'ambiguous_host', 'secrets_disabled'],
    }),
  },
});

const MACHINE =
  'The saved commands (at their latest version) whose defaultTarget is this machine: a job target naming it, or run targets that would include it now (the selector matching its labels, as a run resolves them, within `kinds`; or the agents/hosts list naming it). A machine the caller may not read is 404, as GET of it is.';

export const listAgentCommands = defineRoute({
  method: 'get',
  path: '/v1/agents/{id}/commands',
  operationId: 'listAgentCommands',
  tags: ['commands', 'agents'],
  summary: "An agent's saved commands",
  description: MACHINE,
  request: { params: AgentIdParams },
  responses: { 200: { description: 'The commands', content: json(MachineCommands) }, ...errorResponses(NOT_FOUND) },
});

export const listHostCommands = defineRoute({
  method: 'get',
  path: '/v1/hosts/{id}/commands',
  operationId: 'listHostCommands',
  tags: ['commands', 'hosts'],
  summary: "A host's saved commands",
  description: MACHINE,
  request: { params: HostIdParams },
  responses: { 200: { description: 'The commands', content: json(MachineCommands) }, ...errorResponses({ ...NOT_FOUND, 422: ['ambiguous_host'] }) },
});
