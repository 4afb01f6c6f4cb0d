import { z } from 'zod';
import { PROVIDER_KINDS } from '../domain/workspace.ts';
import { storableString } from '../errors/storable-text.ts';
import { CreateTemplateInput, TemplateParamDefinition, UpdateTemplateInput } from '../workspaces/template-input.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });
const ms = (what: string) => z.number().int().nullable().meta({ description: what });

const VersionFields = {
  version: z.number().int().meta({ description: 'Its number: 1 for the first, one more for each PATCH' }),
  provider: z.enum(PROVIDER_KINDS).meta({ description: 'Where its machines come from: `fake` (scripted, for tests), `netns` (a network namespace and a bubblewrap sandbox), `command` (your shell commands, DevPod\'s contract), `docker` (the Engine API)' }),
  config: z.record(z.string(), z.unknown()).meta({ description: "The provider's settings, checked against its schema when written" }),
  params: z.array(TemplateParamDefinition.meta({ id: 'TemplateParam' })).meta({ description: 'The parameters a workspace gives values to' }),
  defaultTtlMs: ms('A started workspace is stopped this long after its start (bumped by activity); null: no TTL'),
  activityBumpMs: ms('Activity (a shell, a running job) moves the deadline to at least now + this'),
  idleTimeoutMs: ms('No shell and no job for this long: stopped'),
  failureTtlMs: ms('Failed for this long: a stop is issued'),
  timeTilDormantMs: ms('Unused for this long: stopped and marked dormant'),
  timeTilDormantAutodeleteMs: ms('Dormant for this long: deleted'),
  maxDeadlineMs: ms('A deadline never goes past start + this'),
  agentConnectTimeoutMs: z.number().int().meta({ description: 'Started but its agent not connected within this: health `unhealthy`' }),
  costPerHour: z.number().nullable().meta({ description: 'What an hour of a running workspace costs (usage reports)' }),
  labels: z.record(z.string(), z.string()),
  createdBy: z.string().nullable(),
  createdAt: when('When this version was made'),
};

export const TemplateVersion = z.object(VersionFields).meta({ id: 'TemplateVersion' });
export const Template = z
  .object({
    id: z.string().meta({ example: 'tpl_0123456789abcdefghij' }),
    name: z.string(),
    currentVersion: z.number().int().meta({ description: 'The version new workspaces and rebuilds use; its fields are the ones shown' }),
    ...VersionFields,
    updatedAt: when('When it was last changed'),
  })
  .meta({ id: 'Template' });
export type Template = z.infer<typeof Template>;
export const TemplateList = z.object({ items: z.array(Template) }).meta({ id: 'TemplateList' });
export const TemplateVersionList = z.object({ items: z.array(TemplateVersion).meta({ description: 'Newest first' }) }).meta({ id: 'TemplateVersionList' });

export const TemplateRefParams = z.object({ id: storableString().meta({ description: 'The template id (`tpl_…`) or name', example: 'dev-box' }) });

const WRITE = 'Admins only (`workspaces:write` and the admin role): anyone else is 403 `forbidden`.';
const BAD_BODY = { 400: ['validation_failed', 'invalid_json'] } as const;
const NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;

export const createTemplate = defineRoute({
  method: 'post',
  path: '/v1/templates',
  operationId: 'createTemplate',
  tags: ['workspaces'],
  summary: 'Create a workspace template',
  description: `${WRITE} Its version 1. \`config\` is checked against the provider's schema: a bad field is 400 naming \`config.<field>\`.`,
  request: { body: { required: true, content: json(CreateTemplateInput.meta({ id: 'TemplateInput' })) } },
  responses: {
    201: { description: 'Created', headers: z.object({ Location: z.string().meta({ description: '`/v1/templates/{id}`' }) }), content: json(Template) },
    ...errorResponses({ ...AUTHENTICATED, ...BAD_BODY, 409: ['template_exists'] }),
  },
});

export const listTemplates = defineRoute({
  method: 'get',
  path: '/v1/templates',
  operationId: 'listTemplates',
  tags: ['workspaces'],
  summary: 'List templates (live ones, by name)',
  description: 'Any user with `workspaces:read`.',
  responses: { 200: { description: 'The templates', content: json(TemplateList) }, ...errorResponses(AUTHENTICATED) },
});

export const getTemplate = defineRoute({
  method: 'get',
  path: '/v1/templates/{id}',
  operationId: 'getTemplate',
  tags: ['workspaces'],
  summary: 'A template and its current version',
  request: { params: TemplateRefParams },
  responses: { 200: { description: 'The template', content: json(Template) }, ...errorResponses(NOT_FOUND) },
});

export const listTemplateVersions = defineRoute({
  method: 'get',
  path: '/v1/templates/{id}/versions',
  operationId: 'listTemplateVersions',
  tags: ['workspaces'],
  summary: "A template's versions, newest first",
  request: { params: TemplateRefParams },
  responses: { 200: { description: 'Its versions', content: json(TemplateVersionList) }, ...errorResponses(NOT_FOUND) },
});

export const updateTemplate = defineRoute({
  method: 'patch',
  path: '/v1/templates/{id}',
  operationId: 'updateTemplate',
  tags: ['workspaces'],
  summary: 'Change a template: a new version',
  description: `${WRITE} Any field; the result is a new version (a name alone makes none). Workspaces keep the version they were built from (shown \`outdated\`); a rebuild takes the new one. A new provider without a new \`config\` starts from an empty one.`,
  request: { params: TemplateRefParams, body: { required: true, content: json(UpdateTemplateInput.meta({ id: 'TemplatePatch' })) } },
  responses: { 200: { description: 'The template after the change', content: json(Template) }, ...errorResponses({ ...NOT_FOUND, ...BAD_BODY, 409: ['template_exists'] }) },
});

export const deleteTemplate = defineRoute({
  method: 'delete',
  path: '/v1/templates/{id}',
  operationId: 'deleteTemplate',
  tags: ['workspaces'],
  summary: 'Delete a template',
  description: `${WRITE} No new workspace from it, and its name is free again. Workspaces built from it keep their version: they start, stop, rebuild and delete as before.`,
  request: { params: TemplateRefParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(NOT_FOUND) },
});
