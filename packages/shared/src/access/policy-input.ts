import { z } from 'zod';
import { POLICY_ACTIONS, USER_ROLES } from '../domain/access.ts';
import { LabelSelectorError, parseLabelSelector } from '../domain/label-selector.ts';
import { storableString } from '../domain/storable-text.ts';

/** As a run's `targets.selector` and GET /v1/targets?selector=. */
const MAX_SELECTOR_LENGTH = 4096;

export const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/**
 * A label selector kept as written, parsed here so a mistake is a 400 naming `targets` with the
 * 0-based position (details.position), as GET /v1/targets answers for its `selector`.
 */
const SelectorText = z
  .string({ error: 'must be a label selector (a string; "" matches every agent and host)' })
  .max(MAX_SELECTOR_LENGTH)
  .superRefine((text, ctx) => {
    try {
      parseLabelSelector(text);
    } catch (err) {
      if (!(err instanceof LabelSelectorError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message, params: { position: err.position } });
    }
  });

/** Roles a policy may name: admins may do everything already. */
export const SUBJECT_ROLES = USER_ROLES.filter((r) => r !== 'admin') as ['operator', 'viewer'];
export type SubjectRole = (typeof SUBJECT_ROLES)[number];

/**
 * POST /v1/policies. `subjects.users` are user ids or names (resolved, each must exist: 422
 * unknown_user naming it); `targets` a label selector over agents and hosts, or absent/null for a
 * policy that grants only `local`. `run` and `cancel` imply `read` on the same targets.
 */
export const PolicyInput = z
  .object({
    name: storableString({ error: 'is required and must be a string' }).regex(POLICY_NAME, 'must be 1-100 letters, digits, "_", "." or "-", starting with a letter or digit'),
    subjects: z
      .object({
        users: z.array(storableString().min(1, 'must not be empty').max(200)).max(1000).optional(),
        roles: z
          .array(z.enum(SUBJECT_ROLES, { error: 'must be "operator" or "viewer" (admins need no policy: they may do everything)' }))
          .max(SUBJECT_ROLES.length)
          .optional(),
      }, { error: 'is required: {"users": [id or name, …], "roles": ["operator" | "viewer", …]}' })
      .strict()
      .refine((s) => (s.users?.length ?? 0) + (s.roles?.length ?? 0) > 0, { error: 'must name at least one user or role' }),
    actions: z
      .array(z.enum(POLICY_ACTIONS, { error: `must be one of ${POLICY_ACTIONS.map((a) => `"${a}"`).join(', ')}` }), { error: 'is required: a list of "read", "run", "cancel"' })
      .min(1, 'must name at least one action')
      .max(POLICY_ACTIONS.length * 4)
      .transform((a) => POLICY_ACTIONS.filter((x) => a.includes(x))),
    targets: SelectorText.nullable().optional(),
    local: z.boolean().default(false),
  })
  .strict()
  .refine((p) => (p.targets !== undefined && p.targets !== null) || p.local, {
    path: ['targets'],
    error: 'is required unless local is true: a label selector ("" matches every agent and host)',
  });
export type PolicyInput = z.infer<typeof PolicyInput>;
