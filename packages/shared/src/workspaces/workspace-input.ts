import { z } from 'zod';
import { LabelsInput } from '../domain/labels.ts';
import { storableText } from '../domain/storable-text.ts';
import { OPERATION_STATUSES, OPERATION_TYPES, WORKSPACE_STATUSES } from '../domain/workspace.ts';

/**
 * The bodies of POST and PATCH /v1/workspaces (issue 18): pure zod (the client loads them). The
 * template, its params and the cron expression are checked by the service, naming the field.
 */

/**
 * LOUD: at most 48 characters: the workspace's agent is named `ws-<name>-<6 chars of its id>`,
 * and agent names are at most 63. Lowercase and `-` only, so the name also fits hostnames.
 */
export const WorkspaceName = z
  .string({ error: 'is required and must be a string' })
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/, 'must be 1-48 lowercase letters, digits or "-", starting and ending with a letter or digit');

const DAY = 24 * 3_600_000;
const Duration = (min: number, max: number) =>
  z.number({ error: 'must be a number of milliseconds' }).int('must be a whole number of milliseconds').min(min, `must be at least ${min} ms`).max(max, `must be at most ${max} ms`);

export const AutostartSchedule = z
  .object({
    cron: z.string({ error: 'must be a cron expression (five fields, or six with seconds first)' }).min(1, 'must not be empty').max(256, 'must be at most 256 characters'),
    timezone: z.string({ error: 'must be an IANA timezone name such as "Europe/Berlin"' }).min(1).max(64).default('UTC'),
  })
  .strict();

const ParamValues = z
  .record(z.string(), storableText(z.string({ error: 'parameter values must be strings' }).max(4096, 'parameter values are at most 4096 characters')), { error: 'must be an object of parameter names to string values' })
  .refine((p) => Object.keys(p).length <= 64, 'at most 64 parameters');

export const CreateWorkspaceInput = z
  .object({
    name: WorkspaceName,
    template: z.string({ error: 'is required: a template\'s name or id (GET /v1/templates)' }).min(1, 'must name a template').max(255),
    params: ParamValues.default({}),
    ttlMs: Duration(60_000, 365 * DAY).nullable().optional(),
    idleTimeoutMs: Duration(60_000, 365 * DAY).nullable().optional(),
    autostartSchedule: AutostartSchedule.nullable().optional(),
    labels: LabelsInput.default({}),
  })
  .strict();
export type CreateWorkspaceInput = z.infer<typeof CreateWorkspaceInput>;

/** PATCH: any of these; `null` clears (ttlMs, idleTimeoutMs: back to the template's; autostartSchedule: none). */
export const UpdateWorkspaceInput = z
  .object({
    name: WorkspaceName.optional(),
    ttlMs: Duration(60_000, 365 * DAY).nullable().optional(),
    idleTimeoutMs: Duration(60_000, 365 * DAY).nullable().optional(),
    autostartSchedule: AutostartSchedule.nullable().optional(),
    labels: LabelsInput.optional(),
  })
  .strict();
export type UpdateWorkspaceInput = z.infer<typeof UpdateWorkspaceInput>;

const WorkspaceRef = z.string().min(1).max(255);

export const ListWorkspacesFilter = {
  status: z.enum(WORKSPACE_STATUSES, { error: `must be one of ${WORKSPACE_STATUSES.join(', ')}` }).optional(),
  owner: WorkspaceRef.optional(),
};

export const ListOperationsFilter = {
  workspace: WorkspaceRef.optional(),
  type: z.enum(OPERATION_TYPES, { error: `must be one of ${OPERATION_TYPES.join(', ')}` }).optional(),
  status: z.enum(OPERATION_STATUSES, { error: `must be one of ${OPERATION_STATUSES.join(', ')}` }).optional(),
};
