import { z } from 'zod';
import { EnrolInput } from '../agents/enrol-input.ts';
import { EnrolmentTokenInput } from '../agents/enrolment-token-input.ts';
import { storableString } from '../errors/storable-text.ts';
import { AUTHENTICATED, errorResponses, SERVED } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

/** The body vmo-agent sends; the agent checks its --name (or hostname) with it before sending. */
export { EnrolInput };

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

export const EnrolmentToken = z
  .object({
    id: z.string().meta({ example: 'enr_0123456789abcdefghij' }),
    name: z.string().nullable(),
    labels: z.record(z.string(), z.string()).meta({ description: 'Given to every agent enrolled with it' }),
    status: z
      .enum(['active', 'revoked', 'expired', 'used_up'])
      .meta({ description: '`active`: it enrols agents now; otherwise the first reason it does not (revoked, past expiresAt, uses at maxUses)' }),
    expiresAt: when('After this it enrols no agent'),
    maxUses: z.number().int().nullable().meta({ description: 'At most this many agents; null: no limit until expiresAt' }),
    uses: z.number().int().meta({ description: 'Agents enrolled with it so far' }),
    createdBy: z.string().nullable(),
    createdAt: when('When it was created'),
    revokedAt: when('When it was revoked').nullable(),
  })
  .meta({ id: 'EnrolmentToken' });
export type EnrolmentToken = z.infer<typeof EnrolmentToken>;

export const CreatedEnrolmentToken = EnrolmentToken.extend({
  token: z.string().meta({ description: 'The enrolment token (`vmo_enr_…`): shown once, stored only as its hash. Give it to `vmo-agent --enrol-file`.' }),
}).meta({ id: 'CreatedEnrolmentToken' });

export const EnrolmentTokenPage = z.object({ items: z.array(EnrolmentToken), nextCursor: z.string().nullable() }).meta({ id: 'EnrolmentTokenPage' });

export const EnrolmentTokenIdParams = z.object({ id: storableString().meta({ description: 'An enrolment token id (`enr_…`)', example: 'enr_0123456789abcdefghij' }) });

export const ListEnrolmentTokensQuery = z
  .object({
    limit: intParam(1, 500, 100),
    cursor: storableString().max(64).optional(),
  })
  .strict();

export const EnrolledAgent = z
  .object({
    agentId: z.string().meta({ example: 'agt_0123456789abcdefghij' }),
    name: z.string(),
    labels: z.record(z.string(), z.string()).meta({ description: "The enrolment token's labels" }),
    token: z.string().meta({ description: "The new agent's own token (`vmo_agt_…`): shown once, stored only as its hash; `vmo-agent` keeps it in `<state-dir>/agent.token`" }),
  })
  .meta({ id: 'EnrolledAgent' });
export type EnrolledAgent = z.infer<typeof EnrolledAgent>;

const ADMIN = 'Admin only (scope `agents:write`).';
const NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;

export const createEnrolmentToken = defineRoute({
  method: 'post',
  path: '/v1/enrolment-tokens',
  operationId: 'createEnrolmentToken',
  tags: ['agents'],
  summary: 'Create an enrolment token',
  description: `${ADMIN} A token that machines exchange for agents of their own on first start (\`vmo-agent --enrol-file F --state-dir D\`): one image for a fleet. The token is answered once.`,
  request: { body: { required: true, content: json(EnrolmentTokenInput.meta({ id: 'EnrolmentTokenInput' })) } },
  responses: {
    201: { description: 'Created', headers: z.object({ Location: z.string().meta({ description: '`/v1/enrolment-tokens/{id}`' }) }), content: json(CreatedEnrolmentToken) },
    ...errorResponses({ ...AUTHENTICATED, 400: ['validation_failed', 'invalid_json'] }),
  },
});

export const listEnrolmentTokens = defineRoute({
  method: 'get',
  path: '/v1/enrolment-tokens',
  operationId: 'listEnrolmentTokens',
  tags: ['agents'],
  summary: 'List enrolment tokens',
  description: `${ADMIN} Newest first, revoked, expired and used-up ones included; never the token itself.`,
  request: { query: ListEnrolmentTokensQuery },
  responses: { 200: { description: 'A page of enrolment tokens', content: json(EnrolmentTokenPage) }, ...errorResponses(AUTHENTICATED) },
});

export const getEnrolmentToken = defineRoute({
  method: 'get',
  path: '/v1/enrolment-tokens/{id}',
  operationId: 'getEnrolmentToken',
  tags: ['agents'],
  summary: 'An enrolment token',
  description: ADMIN,
  request: { params: EnrolmentTokenIdParams },
  responses: { 200: { description: 'The enrolment token', content: json(EnrolmentToken) }, ...errorResponses(NOT_FOUND) },
});

export const revokeEnrolmentToken = defineRoute({
  method: 'delete',
  path: '/v1/enrolment-tokens/{id}',
  operationId: 'revokeEnrolmentToken',
  tags: ['agents'],
  summary: 'Revoke an enrolment token',
  description: `${ADMIN} It enrols no agent from now on. Agents it already enrolled keep their own tokens (revoke them with \`DELETE /v1/agents/{id}\`). Revoking it again changes nothing.`,
  request: { params: EnrolmentTokenIdParams },
  responses: { 204: { description: 'Revoked' }, ...errorResponses(NOT_FOUND) },
});

export const enrolAgent = defineRoute({
  method: 'post',
  path: '/v1/agent/enrol',
  operationId: 'enrolAgent',
  tags: ['agents'],
  summary: 'Exchange an enrolment token for an agent',
  description: [
    'Called by `vmo-agent --enrol` on its first start, with `Authorization: Bearer <enrolment token>` (`vmo_enr_…`; any other kind of token is 403). Creates an agent with the enrolment token\'s labels and answers its own token once. Each call uses the enrolment token once: it is refused (401) once revoked, past `expiresAt`, or at `maxUses`, and a refused call creates nothing and uses nothing.',
    '',
    '',
    'A lost answer is safe to retry: send the same `nonce` (random, made once per machine and kept before the first attempt; `vmo-agent` keeps it in `<state-dir>/enrol.nonce`). A retry with the same enrolment token, `name` and `nonce`, for an agent that has not connected yet, answers 200 with that same agent and a new token (the unseen earlier one stops working) and uses nothing; the enrolment token must still be neither revoked nor expired (a used-up one still answers its own retry). Another nonce, or none, for a name taken is 409.',
    '',
    'The enrolment token authenticates this call only: on `/v1/agent/connect` it is refused (403).',
  ].join('\n'),
  security: [{ enrolmentToken: [] }],
  request: { body: { required: true, content: json(EnrolInput.meta({ id: 'EnrolInput' })) } },
  responses: {
    201: { description: 'Enrolled', headers: z.object({ Location: z.string().meta({ description: '`/v1/agents/{id}`' }) }), content: json(EnrolledAgent) },
    200: {
      description: 'Enrolled before, its answer lost: a retry with the same enrolment token, name and nonce; the same agent, a new token',
      headers: z.object({ Location: z.string().meta({ description: '`/v1/agents/{id}`' }) }),
      content: json(EnrolledAgent),
    },
    ...errorResponses({ ...SERVED, 400: ['validation_failed', 'invalid_json'], 401: ['unauthorized'], 403: ['forbidden'], 409: ['name_taken'], 413: ['payload_too_large'], 503: ['unavailable'] }),
  },
});
