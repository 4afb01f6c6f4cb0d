import { z } from 'zod';
import { OPERATION_REASONS, OPERATION_STATUSES, OPERATION_TYPES, WORKSPACE_HEALTH, WORKSPACE_STATUSES } from '../domain/workspace.ts';
import { storableString } from '../errors/storable-text.ts';
import { CreateWorkspaceInput, ListWorkspacesFilter, UpdateWorkspaceInput } from '../workspaces/workspace-input.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

export const OperationRef = z
  .object({
    id: z.string().meta({ example: 'wop_0123456789abcdefghij' }),
    workspaceId: z.string(),
    type: z.enum(OPERATION_TYPES),
    status: z.enum(OPERATION_STATUSES),
    reason: z.enum(OPERATION_REASONS),
    createdAt: when('When it was asked for'),
  })
  .meta({ id: 'OperationRef', description: 'An operation just asked for: follow it with GET /v1/operations/{id}' });

export const OperationSummary = z
  .object({
    id: z.string(),
    type: z.enum(OPERATION_TYPES),
    status: z.enum(OPERATION_STATUSES),
    reason: z.enum(OPERATION_REASONS),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    createdAt: when('When it was asked for'),
    startedAt: when('When a worker started it').nullable(),
    endedAt: when('When it ended').nullable(),
  })
  .meta({ id: 'OperationSummary' });

export const Workspace = z
  .object({
    id: z.string().meta({ example: 'wks_0123456789abcdefghij' }),
    name: z.string(),
    ownerId: z.string().nullable().meta({ description: 'users.id of its owner; null: the bootstrap admin' }),
    ownerName: z.string(),
    status: z.enum(WORKSPACE_STATUSES).meta({ description: "Derived from its latest operation (Coder's table): pending, starting, running, stopping, stopped, deleting, deleted, failed, canceling, canceled" }),
    health: z.enum(WORKSPACE_HEALTH).meta({ description: '`healthy`: its agent is connected; `connecting`: starting, or started and its agent not yet connected; `unhealthy`: started but no agent within the template\'s agentConnectTimeoutMs; `none`: not meant to be up' }),
    latestOperation: OperationSummary.nullable(),
    agent: z.object({ id: z.string(), name: z.string(), online: z.boolean() }).nullable().meta({ description: 'The vmo agent it runs: jobs target it as {"type":"workspace","workspace":…}, or as this agent, and runs by its labels workspace=<name> (names repeat across owners: add workspace-owner=<user id>) or workspace-id=<id>. It is its owner\'s (no policy needed) and the admins\' only: hidden from anyone else whatever their policies, and carries none of the workspace\'s labels' }),
    templateId: z.string(),
    templateName: z.string(),
    templateVersion: z.number().int().meta({ description: 'The version it was (re)built from' }),
    templateCurrentVersion: z.number().int(),
    outdated: z.boolean().meta({ description: 'The template has a newer version: a rebuild takes it' }),
    params: z.record(z.string(), z.string()),
    labels: z.record(z.string(), z.string()),
    ttlMs: z.number().int().nullable().meta({ description: "null: the template's defaultTtlMs" }),
    idleTimeoutMs: z.number().int().nullable().meta({ description: "null: the template's" }),
    autostart: z.object({ cron: z.string(), timezone: z.string(), nextAt: when('Its next start').nullable() }).nullable(),
    deadlineAt: when('While running: it is stopped then (start + TTL, bumped by activity); null when not running or without a TTL').nullable(),
    maxDeadlineAt: when('The deadline never goes past this').nullable(),
    lastActiveAt: when('The last shell or job seen on it'),
    dormantAt: when('When it was marked dormant').nullable(),
    resources: z.record(z.string(), z.union([z.string(), z.number()])).nullable().meta({ description: 'What its provider reported it runs on' }),
    createdAt: when('When it was created'),
    updatedAt: when('When it was last changed'),
    deletedAt: when('When it was deleted').nullable(),
  })
  .meta({ id: 'Workspace' });
export type Workspace = z.infer<typeof Workspace>;

export const WorkspacePage = z
  .object({ items: z.array(Workspace), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }) })
  .meta({ id: 'WorkspacePage' });
export const WorkspaceCreated = z.object({ workspace: Workspace, operation: OperationRef }).meta({ id: 'WorkspaceCreated' });
export const WorkspaceOperationAccepted = z.object({ operation: OperationRef }).meta({ id: 'WorkspaceOperationAccepted' });

export const WorkspaceRefParams = z.object({ id: storableString().meta({ description: 'The workspace id (`wks_…`) or, for your own, its name', example: 'my-box' }) });

export const ListWorkspacesQuery = z
  .object({
    limit: intParam(1, 500, 50),
    cursor: z.string().regex(/^wks_[0-9a-z]{20}$/, 'must be a nextCursor from a previous page').optional(),
    status: ListWorkspacesFilter.status.meta({ description: 'Only workspaces in this status (`deleted` lists deleted ones, which are otherwise left out)' }),
    owner: ListWorkspacesFilter.owner.meta({ description: "Admins: only this user's (id or name)" }),
  })
  .strict();

export const DeleteWorkspaceQuery = z
  .object({ orphan: z.enum(['true', 'false'], { error: 'must be true or false' }).optional().meta({ description: 'Admins: delete it without calling its provider' }) })
  .strict();

const ACCESS = 'A workspace is its owner\'s (who created it) and the admins\': to anyone else every route of it is 404.';
const BAD_BODY = { 400: ['validation_failed', 'invalid_json'] } as const;
const NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;
const ACTION_ERRORS = errorResponses({ ...NOT_FOUND, 409: ['workspace_busy', 'invalid_transition'] });

export const createWorkspace = defineRoute({
  method: 'post',
  path: '/v1/workspaces',
  operationId: 'createWorkspace',
  tags: ['workspaces'],
  summary: 'Create a workspace from a template',
  description: `Answers at once with the workspace (status \`pending\`) and its \`create\` operation; follow it with GET /v1/operations/{id}. It is ready when its agent connects (health \`healthy\`). \`template\`: a template's name or id (its current version); \`params\`: values for the template's parameters (defaults applied; a required one missing, or one it does not declare, is 400 \`invalid_param\` naming it). \`ttlMs\`, \`idleTimeoutMs\`: instead of the template's. \`autostartSchedule\`: {cron, timezone} that starts it. ${ACCESS}`,
  request: { body: { required: true, content: json(CreateWorkspaceInput.meta({ id: 'WorkspaceInput' })) } },
  responses: {
    202: { description: 'Accepted: the workspace and its create operation', headers: z.object({ Location: z.string().meta({ description: '`/v1/workspaces/{id}`' }) }), content: json(WorkspaceCreated) },
    ...errorResponses({ ...AUTHENTICATED, 400: ['validation_failed', 'invalid_json', 'invalid_param'], 409: ['workspace_exists'] }),
  },
});

export const listWorkspaces = defineRoute({
  method: 'get',
  path: '/v1/workspaces',
  operationId: 'listWorkspaces',
  tags: ['workspaces'],
  summary: 'List workspaces, newest first',
  description: 'Yours (admins: all, or `owner`\'s). Keyset pagination: pass `nextCursor` as `cursor`. Unknown parameters are refused.',
  request: { query: ListWorkspacesQuery },
  responses: { 200: { description: 'A page of workspaces', content: json(WorkspacePage) }, ...errorResponses({ ...AUTHENTICATED, 422: ['unknown_user'] }) },
});

export const getWorkspace = defineRoute({
  method: 'get',
  path: '/v1/workspaces/{id}',
  operationId: 'getWorkspace',
  tags: ['workspaces'],
  summary: 'A workspace: status, health, agent, deadline, template version',
  description: ACCESS,
  request: { params: WorkspaceRefParams },
  responses: { 200: { description: 'The workspace', content: json(Workspace) }, ...errorResponses(NOT_FOUND) },
});

export const updateWorkspace = defineRoute({
  method: 'patch',
  path: '/v1/workspaces/{id}',
  operationId: 'updateWorkspace',
  tags: ['workspaces'],
  summary: 'Rename a workspace, or change its TTL, idle timeout, labels or autostart',
  description: `A new name renames its agent and its \`workspace\` label with it. \`null\` clears \`ttlMs\`/\`idleTimeoutMs\` (back to the template's) and \`autostartSchedule\`. A new TTL applies from the next start. ${ACCESS}`,
  request: { params: WorkspaceRefParams, body: { required: true, content: json(UpdateWorkspaceInput.meta({ id: 'WorkspacePatch' })) } },
  responses: { 200: { description: 'The workspace after the change', content: json(Workspace) }, ...errorResponses({ ...NOT_FOUND, ...BAD_BODY, 409: ['workspace_exists'] }) },
});

const action = (verb: 'start' | 'stop' | 'restart' | 'rebuild', summary: string, description: string) =>
  defineRoute({
    method: 'post',
    path: `/v1/workspaces/{id}/${verb}`,
    operationId: `${verb}Workspace` as `${typeof verb}Workspace`,
    tags: ['workspaces'],
    summary,
    description: `${description} Answers at once with the operation. One operation at a time: while one is active this is 409 \`workspace_busy\`; what the status does not allow is 409 \`invalid_transition\`. ${ACCESS}`,
    request: { params: WorkspaceRefParams },
    responses: { 202: { description: 'Accepted: the operation', content: json(WorkspaceOperationAccepted) }, ...ACTION_ERRORS },
  });

export const startWorkspace = action('start', 'Start a workspace', 'From stopped, failed or canceled.');
export const stopWorkspace = action('stop', 'Stop a workspace', 'From running, failed or canceled (a canceled start can always be stopped).');
export const restartWorkspace = action('restart', 'Restart a workspace', 'A stop followed by a start, from running.');
export const rebuildWorkspace = action('rebuild', "Rebuild a workspace from its template's current version", "Keeps its identity and data; the operation records the version (the workspace's templateVersion follows when it succeeds).");

export const deleteWorkspace = defineRoute({
  method: 'delete',
  path: '/v1/workspaces/{id}',
  operationId: 'deleteWorkspace',
  tags: ['workspaces'],
  summary: 'Destroy a workspace',
  description: `202 with a \`delete\` operation; when it succeeds the workspace is \`deleted\` and its name free again. \`orphan=true\` (admins only): deleted at once WITHOUT its provider (whatever the provider made is left behind): an active operation ends canceled, its agent is revoked; 200 with the workspace. ${ACCESS}`,
  request: { params: WorkspaceRefParams, query: DeleteWorkspaceQuery },
  responses: {
    200: { description: 'Orphan delete: the workspace, deleted', content: json(Workspace) },
    202: { description: 'Accepted: the delete operation', content: json(WorkspaceOperationAccepted) },
    ...ACTION_ERRORS,
  },
});
