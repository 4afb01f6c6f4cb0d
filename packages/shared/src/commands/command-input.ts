import { z } from 'zod';
import { LabelSelectorError, parseLabelSelector } from '../domain/label-selector.ts';
import { OFFLINE_POLICIES } from '../domain/run-status.ts';
import { storableText } from '../domain/storable-text.ts';
import { JobInput, LabelsInput, MAX_COMMAND_BYTES, MAX_TIMEOUT_MS, TargetInput } from '../jobs/job-input.ts';
import { MAX_DISPATCH_TIMEOUT_MS, RunTargetsInput, StrategyInput } from '../runs/run-input.ts';

/**
 * The bodies of /v1/commands (issue 15): pure zod (the client loads them). What zod cannot judge
 * without a regular-expression engine (a `pattern` compiles under RE2's rules) or the declarations
 * (a run's parameter values) is checked by the service (commands/param-pattern.ts, param-values.ts),
 * with a 400 naming the field or the parameter.
 */

export const MAX_COMMAND_NAME = 63;
/** A command's name: it is a path segment (/v1/commands/{name}) and a word on a command line. */
export const COMMAND_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** A parameter's name: it becomes VMO_PARAM_<NAME, upper-cased>, an environment variable every shell reads. */
export const PARAM_NAME = /^[a-z][a-z0-9_]{0,62}$/;
export const MAX_PARAMS = 50;
/** The longest value a string parameter takes (bytes, UTF-8): a bound for the pattern's matching and for the job's env. */
export const MAX_PARAM_VALUE_BYTES = 4096;
/** The longest `pattern`: RE2 matches in time linear in the value, and the pattern's own size is bounded too. */
export const MAX_PATTERN_LENGTH = 512;
export const MAX_ENUM_VALUES = 100;
export const MAX_ENUM_VALUE_LENGTH = 256;

/** VMO_PARAM_<NAME>: the only way a parameter's value reaches the script. */
export const paramEnvName = (name: string): string => `VMO_PARAM_${name.toUpperCase()}`;

export const CommandName = z
  .string({ error: 'is required and must be a string' })
  .regex(COMMAND_NAME, `must be 1-${MAX_COMMAND_NAME} letters, digits, ".", "_" or "-", starting with a letter or digit`);

const ParamName = z.string({ error: 'is required and must be a string' }).regex(PARAM_NAME, 'must be 1-63 lower-case letters, digits or "_", starting with a letter (it becomes VMO_PARAM_<NAME>)');
const Description = storableText(z.string({ error: 'must be a string' }).max(1000, 'must be at most 1000 characters'));
const Required = z.boolean({ error: 'must be true or false' }).default(false);
const SafeInt = z
  .number({ error: 'must be a whole number' })
  .int('must be a whole number')
  .min(Number.MIN_SAFE_INTEGER, `must be at least ${Number.MIN_SAFE_INTEGER}`)
  .max(Number.MAX_SAFE_INTEGER, `must be at most ${Number.MAX_SAFE_INTEGER}`);
const StringValue = storableText(z.string({ error: 'must be a string' })).refine((v) => Buffer.byteLength(v) <= MAX_PARAM_VALUE_BYTES, `must be at most ${MAX_PARAM_VALUE_BYTES} bytes`);

const StringParam = z
  .object({
    name: ParamName,
    type: z.literal('string'),
    description: Description.optional(),
    required: Required,
    default: StringValue.optional(),
    pattern: storableText(z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(MAX_PATTERN_LENGTH, `must be at most ${MAX_PATTERN_LENGTH} characters`))
      .optional()
      .meta({ description: 'RE2 syntax (no look-around, no back-references), matched against the WHOLE value (as if between ^ and $), in time linear in the value' }),
    secret: z
      .boolean({ error: 'must be true or false' })
      .default(false)
      .meta({ description: "Its value goes to the job's secretEnv: sealed until the job ends, masked (***) in the output, never in an answer or a log. At least 4 bytes (a shorter value could not be masked). No default (it would be stored in the clear)." }),
  })
  .strict();
const IntParam = z
  .object({
    name: ParamName,
    type: z.literal('int'),
    description: Description.optional(),
    required: Required,
    default: SafeInt.optional(),
    min: SafeInt.optional(),
    max: SafeInt.optional(),
  })
  .strict();
const BoolParam = z.object({ name: ParamName, type: z.literal('bool'), description: Description.optional(), required: Required, default: z.boolean({ error: 'must be true or false' }).optional() }).strict();
const EnumParam = z
  .object({
    name: ParamName,
    type: z.literal('enum'),
    description: Description.optional(),
    required: Required,
    values: z
      .array(storableText(z.string({ error: 'must be strings' }).min(1, 'must not be empty strings').max(MAX_ENUM_VALUE_LENGTH, `must be at most ${MAX_ENUM_VALUE_LENGTH} characters each`)), { error: 'is required for an enum: the list of allowed values' })
      .min(1, 'must list at least one value')
      .max(MAX_ENUM_VALUES, `must list at most ${MAX_ENUM_VALUES} values`)
      .refine((v) => new Set(v).size === v.length, 'must not list a value twice'),
    default: z.string({ error: 'must be a string' }).optional(),
  })
  .strict();

export const PARAM_TYPES = ['string', 'int', 'bool', 'enum'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

/** One parameter's declaration. `pattern` and `secret` are a string's; `min`/`max` an int's; `values` an enum's. */
export const CommandParam = z
  .discriminatedUnion('type', [StringParam, IntParam, BoolParam, EnumParam], { error: 'must be "string", "int", "bool" or "enum"' })
  .superRefine((p, ctx) => {
    if (p.type === 'string' && p.secret && p.default !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['default'], message: 'a secret parameter takes no default (it would be stored in the clear); give the value at each run' });
    }
    if (p.type === 'int') {
      if (p.min !== undefined && p.max !== undefined && p.min > p.max) ctx.addIssue({ code: 'custom', path: ['max'], message: 'must be at least min' });
      if (p.default !== undefined && ((p.min !== undefined && p.default < p.min) || (p.max !== undefined && p.default > p.max))) {
        ctx.addIssue({ code: 'custom', path: ['default'], message: 'must be within min and max' });
      }
    }
    if (p.type === 'enum' && p.default !== undefined && !p.values.includes(p.default)) ctx.addIssue({ code: 'custom', path: ['default'], message: 'must be one of values' });
  });
export type CommandParam = z.infer<typeof CommandParam>;

const Params = z
  .array(CommandParam, { error: 'must be a list of parameter declarations' })
  .max(MAX_PARAMS, `at most ${MAX_PARAMS} parameters`)
  .superRefine((params, ctx) => {
    const seen = new Set<string>();
    params.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `${JSON.stringify(p.name)} is declared twice` });
      seen.add(p.name);
    });
  })
  .default([]);

/**
 * Where a run goes when it names no target: one job target (`{type: "local" | "agent" | "ssh", …}`:
 * a job) or a run's targets (`{selector?, kinds?, agents?, hosts?}`: a fleet run), the shapes of
 * POST /v1/jobs' `target` and POST /v1/runs' `targets`.
 */
export const DefaultTargetInput = z
  .union([TargetInput, RunTargetsInput], {
    error: 'must be a job target ({"type":"local"}, {"type":"agent","agent":"NAME"}, {"type":"ssh","host":"NAME"}) or a run\'s targets ({"selector":"env=prod"}, {"agents":[…]}, {"hosts":[…]})',
  })
  .superRefine((t, ctx) => {
    if ('type' in t || t.selector === undefined) return;
    selectorIssue(t.selector, ['selector'], ctx);
  })
  .meta({ id: 'CommandDefaultTarget' });
export type DefaultTargetInput = z.infer<typeof DefaultTargetInput>;

function selectorIssue(selector: string, path: (string | number)[], ctx: z.RefinementCtx): void {
  try {
    parseLabelSelector(selector);
  } catch (err) {
    if (!(err instanceof LabelSelectorError)) throw err;
    ctx.addIssue({ code: 'custom', path, message: err.message, params: { position: err.position } });
  }
}

const Script = storableText(
  z
    .string({ error: 'is required and must be a string' })
    .min(1, 'must not be empty')
    .refine((c) => c.trim().length > 0, 'must not be blank')
    .refine((c) => Buffer.byteLength(c) <= MAX_COMMAND_BYTES, `must be at most ${MAX_COMMAND_BYTES} bytes`),
);
const TimeoutMs = z
  .number({ error: 'must be a number of milliseconds' })
  .int('must be a whole number of milliseconds')
  .min(1, 'must be at least 1')
  .max(MAX_TIMEOUT_MS, `must be at most ${MAX_TIMEOUT_MS} (7 days)`);

const definition = {
  description: Description.optional(),
  script: Script.meta({ description: 'The shell text (sh -c). Parameters are NEVER pasted into it: each reaches it as the environment variable VMO_PARAM_<NAME> ("$VMO_PARAM_HOST"; quote it as any variable).' }),
  params: Params,
  defaultTarget: DefaultTargetInput.optional(),
  timeoutMs: TimeoutMs.optional(),
  labels: LabelsInput.default({}),
};

/** POST /v1/commands: version 1 of a new name (or the next version of a deleted one). */
export const CreateCommandInput = z.object({ name: CommandName, ...definition }).strict();
export type CreateCommandInput = z.infer<typeof CreateCommandInput>;

/** PUT /v1/commands/{name}: the whole next version (what is left out is gone from it). `name`, if given, must be the path's. */
export const UpdateCommandInput = z.object({ name: CommandName.optional(), ...definition }).strict();
export type UpdateCommandInput = z.infer<typeof UpdateCommandInput>;

/** A parameter's value as sent: a string, a number or true/false; judged against its declaration by the service. */
const ParamValue = z.union([z.string(), z.number(), z.boolean()], { error: 'values must be strings, numbers or true/false' });

/**
 * POST /v1/commands/{name}/run. `target` (one machine: a job) or `targets` (a run), else the
 * command's defaultTarget. The options of a job (and of a run: strategy, offline,
 * dispatchTimeoutMs) where a person would want them per run; the command's own `timeoutMs` is the
 * default, its labels are kept and these added.
 */
export const RunCommandInput = z
  .object({
    params: z
      .record(z.string().max(64, 'names are at most 64 characters'), ParamValue)
      .refine((p) => Object.keys(p).length <= MAX_PARAMS, `at most ${MAX_PARAMS} parameters`)
      .default({})
      .meta({ description: 'name → value (a string, a number or true/false, as declared; an int or a bool may also be given as text: "3", "true")' }),
    version: z.number({ error: 'must be a version number' }).int('must be a whole number').min(1, 'must be at least 1').optional().meta({ description: 'Run this version (default: the latest)' }),
    target: TargetInput.optional(),
    targets: RunTargetsInput.optional(),
    timeoutMs: TimeoutMs.optional(),
    labels: LabelsInput.optional(),
    runAt: JobInput.shape.runAt,
    priority: JobInput.shape.priority.unwrap().optional(),
    retry: JobInput.shape.retry,
    strategy: StrategyInput.optional(),
    offline: z.enum(OFFLINE_POLICIES, { error: `must be one of ${OFFLINE_POLICIES.join(', ')}` }).optional(),
    dispatchTimeoutMs: z.number().int('must be a whole number of milliseconds').min(1).max(MAX_DISPATCH_TIMEOUT_MS).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.target !== undefined && r.targets !== undefined) ctx.addIssue({ code: 'custom', path: ['targets'], message: 'give target (one machine) or targets (a run), not both' });
    if (r.targets?.selector !== undefined) selectorIssue(r.targets.selector, ['targets', 'selector'], ctx);
  });
export type RunCommandInput = z.infer<typeof RunCommandInput>;
