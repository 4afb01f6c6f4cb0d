import { z } from 'zod';
import { PolicyInput, SUBJECT_ROLES } from '../access/policy-input.ts';
import { POLICY_ACTIONS } from '../domain/access.ts';
import { storableString } from '../errors/storable-text.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

export const Policy = z
  .object({
    id: z.string().meta({ example: 'pol_0123456789abcdefghij' }),
    name: z.string().meta({ example: 'team-a-operators' }),
    subjects: z.object({
      users: z.array(z.object({ id: z.string(), name: z.string().nullable() })).meta({ description: 'Users by id, with their name now' }),
      roles: z.array(z.enum(SUBJECT_ROLES)),
    }),
    actions: z.array(z.enum(POLICY_ACTIONS)).meta({ description: '`run` and `cancel` imply `read` on the same targets' }),
    targets: z.string().nullable().meta({ description: 'The label selector over agents and hosts, as given; null: none (a policy for `local` only)', example: 'team=a' }),
    local: z.boolean().meta({ description: 'Also grants the actions on the `local` target (the control plane\'s own workers), which is admins\' only otherwise' }),
    createdBy: z.string().nullable(),
    createdAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: 'Policy' });
export type Policy = z.infer<typeof Policy>;

export const PolicyPage = z.object({ items: z.array(Policy), nextCursor: z.string().nullable() }).meta({ id: 'PolicyPage' });

export const PolicyIdParams = z.object({ id: storableString().meta({ description: 'A policy id (`pol_…`) or name', example: 'team-a-operators' }) });

export const ListPoliciesQuery = z
  .object({
    limit: intParam(1, 500, 100),
    cursor: z.string().regex(/^pol_[0-9a-z]{20}$/, 'must be a nextCursor from a previous page').optional(),
  })
  .strict();

const ACCESS_NOTE =
  'Admins may do everything; an operator or viewer may do, on an agent or host, what a policy naming their user or role grants on the targets its selector matches. Policies see only labels an admin set: an agent\'s registered labels (registration, PATCH, its enrolment token), never what it reports about itself (`--labels`, which run and preview selectors still see); the built-in agent (`builtin=true`, on the control plane) is the `local` target, granted only by `local: true`. A job or run is visible to its creator and to whoever may `read` its target (a run: every one of its targets); to anyone else it is 404.';

export const createPolicy = defineRoute({
  method: 'post',
  path: '/v1/policies',
  operationId: 'createPolicy',
  tags: ['policies'],
  summary: 'Grant users or roles actions on targets (admin)',
  description: `${ACCESS_NOTE} A selector that does not parse is 400 naming \`targets\` with its position; a user nobody is is 422 \`unknown_user\` naming the entry.`,
  request: { body: { required: true, content: json(PolicyInput.meta({ id: 'PolicyInput' })) } },
  responses: {
    201: { description: 'Created: it binds from the next request on, on every API node', headers: z.object({ Location: z.string().meta({ description: '`/v1/policies/{id}`' }) }), content: json(Policy) },
    ...errorResponses({ ...AUTHENTICATED, 400: ['validation_failed', 'invalid_json'], 409: ['policy_exists'], 422: ['unknown_user'] }),
  },
});

export const listPolicies = defineRoute({
  method: 'get',
  path: '/v1/policies',
  operationId: 'listPolicies',
  tags: ['policies'],
  summary: 'List policies by name (admin)',
  request: { query: ListPoliciesQuery },
  responses: { 200: { description: 'A page of policies', content: json(PolicyPage) }, ...errorResponses(AUTHENTICATED) },
});

export const deletePolicy = defineRoute({
  method: 'delete',
  path: '/v1/policies/{id}',
  operationId: 'deletePolicy',
  tags: ['policies'],
  summary: 'Delete a policy (admin)',
  description: 'What it granted is withdrawn from the next request on, on every API node. Jobs already submitted go on.',
  request: { params: PolicyIdParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses({ ...AUTHENTICATED, 404: ['not_found'] }) },
});
