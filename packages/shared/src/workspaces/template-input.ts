import { z } from 'zod';
import { LabelsInput } from '../domain/labels.ts';
import { storableText } from '../domain/storable-text.ts';
import { PROVIDER_KINDS } from '../domain/workspace.ts';

/**
 * The bodies of POST and PATCH /v1/templates (issue 18): pure zod (the client loads them). The
 * provider's own config is checked by the service (provider-config.ts), naming `config.<field>`.
 */

export const MAX_TEMPLATE_PARAMS = 64;
const DAY = 24 * 3_600_000;

export const TemplateName = z
  .string({ error: 'is required and must be a string' })
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'must be 1-63 lowercase letters, digits, "_", "." or "-", starting with a letter or digit')
  // A template is named by id or name in the same place (GET /v1/templates/{id}, a workspace's `template`).
  .refine((n) => !/^tpl_[0-9a-z]{20}$/.test(n), 'must not look like a template id (tpl_…)');

/** A duration in ms (a field of the template), bounded so nothing overflows a timestamp. */
const Duration = (min: number, max: number) =>
  z.number({ error: 'must be a number of milliseconds' }).int('must be a whole number of milliseconds').min(min, `must be at least ${min} ms`).max(max, `must be at most ${max} ms`);

export const ParamName = z.string({ error: 'must be a string' }).regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'parameter names are letters, digits and "_", not starting with a digit (at most 64)');

export const TemplateParamDefinition = z
  .object({
    name: ParamName,
    description: storableText(z.string().max(1000, 'must be at most 1000 characters')).optional(),
    default: storableText(z.string({ error: 'must be a string' }).max(4096, 'must be at most 4096 characters')).optional(),
    required: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .strict();
export type TemplateParamDefinition = z.infer<typeof TemplateParamDefinition>;

const TemplateParams = z
  .array(TemplateParamDefinition, { error: 'must be a list of {name, description?, default?, required?}' })
  .max(MAX_TEMPLATE_PARAMS, `at most ${MAX_TEMPLATE_PARAMS} parameters`)
  .superRefine((defs, ctx) => {
    const seen = new Set<string>();
    defs.forEach((d, i) => {
      if (seen.has(d.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `${JSON.stringify(d.name)} is declared twice` });
      seen.add(d.name);
    });
  });

/** The fields of a version: every PATCH gives a new version from the current one and these. */
const VersionFields = {
  provider: z.enum(PROVIDER_KINDS, { error: `must be one of ${PROVIDER_KINDS.join(', ')}` }),
  config: z.record(z.string(), z.unknown(), { error: 'must be an object (the provider\'s settings)' }),
  params: TemplateParams,
  defaultTtlMs: Duration(60_000, 365 * DAY).nullable(),
  activityBumpMs: Duration(0, 30 * DAY).nullable(),
  idleTimeoutMs: Duration(60_000, 365 * DAY).nullable(),
  failureTtlMs: Duration(60_000, 365 * DAY).nullable(),
  timeTilDormantMs: Duration(60_000, 10 * 365 * DAY).nullable(),
  timeTilDormantAutodeleteMs: Duration(60_000, 10 * 365 * DAY).nullable(),
  maxDeadlineMs: Duration(60_000, 365 * DAY).nullable(),
  agentConnectTimeoutMs: Duration(1_000, DAY),
  costPerHour: z.number({ error: 'must be a number' }).min(0, 'must not be negative').max(1e8, 'must be at most 100000000').nullable(),
  labels: LabelsInput,
};

export const CreateTemplateInput = z
  .object({
    name: TemplateName,
    provider: VersionFields.provider,
    config: VersionFields.config.default({}),
    params: VersionFields.params.default([]),
    defaultTtlMs: VersionFields.defaultTtlMs.optional(),
    activityBumpMs: VersionFields.activityBumpMs.optional(),
    idleTimeoutMs: VersionFields.idleTimeoutMs.optional(),
    failureTtlMs: VersionFields.failureTtlMs.optional(),
    timeTilDormantMs: VersionFields.timeTilDormantMs.optional(),
    timeTilDormantAutodeleteMs: VersionFields.timeTilDormantAutodeleteMs.optional(),
    maxDeadlineMs: VersionFields.maxDeadlineMs.optional(),
    agentConnectTimeoutMs: VersionFields.agentConnectTimeoutMs.optional(),
    costPerHour: VersionFields.costPerHour.optional(),
    labels: LabelsInput.default({}),
  })
  .strict();
export type CreateTemplateInput = z.infer<typeof CreateTemplateInput>;

/** PATCH: any field; the result is a new version (the old one stays, workspaces built from it keep it). `null` clears an optional duration. */
export const UpdateTemplateInput = z
  .object({
    name: TemplateName.optional(),
    provider: VersionFields.provider.optional(),
    config: VersionFields.config.optional(),
    params: VersionFields.params.optional(),
    defaultTtlMs: VersionFields.defaultTtlMs.optional(),
    activityBumpMs: VersionFields.activityBumpMs.optional(),
    idleTimeoutMs: VersionFields.idleTimeoutMs.optional(),
    failureTtlMs: VersionFields.failureTtlMs.optional(),
    timeTilDormantMs: VersionFields.timeTilDormantMs.optional(),
    timeTilDormantAutodeleteMs: VersionFields.timeTilDormantAutodeleteMs.optional(),
    maxDeadlineMs: VersionFields.maxDeadlineMs.optional(),
    agentConnectTimeoutMs: VersionFields.agentConnectTimeoutMs.optional(),
    costPerHour: VersionFields.costPerHour.optional(),
    labels: LabelsInput.optional(),
  })
  .strict();
export type UpdateTemplateInput = z.infer<typeof UpdateTemplateInput>;
