import { z } from 'zod';
import { AgentInput, AgentPatch } from '../agents/agent-input.ts';
import { storableString } from '../errors/storable-text.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

export const Agent = z
  .object({
    id: z.string().meta({ example: 'agt_0123456789abcdefghij' }),
    name: z.string(),
    status: z.enum(['online', 'offline']),
    labels: z.record(z.string(), z.string()).meta({ description: 'Labels given at registration over those the agent reports (--labels)' }),
    hostname: z.string().nullable(),
    version: z.string().nullable(),
    os: z.string().nullable(),
    arch: z.string().nullable(),
    runningJobs: z.number().int(),
    maxConcurrentJobs: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'At most this many of its jobs run at once; the rest wait `queued`, first in first out (see `queuePosition` on a job). Null: no limit.' }),
    lastSeenAt: when('Last heartbeat seen').nullable(),
    createdAt: when('When it was registered'),
  })
  .meta({ id: 'Agent' });
export type Agent = z.infer<typeof Agent>;

export const RegisteredAgent = Agent.extend({ token: z.string().meta({ description: 'The agent token: shown once, stored only as its hash' }) }).meta({ id: 'RegisteredAgent' });
export const AgentPage = z.object({ items: z.array(Agent), nextCursor: z.string().nullable() }).meta({ id: 'AgentPage' });

export const AgentIdParams = z.object({ id: storableString().meta({ description: 'An agent id (`agt_…`) or name', example: 'web-1' }) });

export const ListAgentsQuery = z
  .object({
    limit: intParam(1, 500, 100),
    cursor: storableString().max(64).optional(),
  })
  .strict();

const AGENT_NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;

export const registerAgent = defineRoute({
  method: 'post',
  path: '/v1/agents',
  operationId: 'registerAgent',
  tags: ['agents'],
  summary: 'Register an agent',
  description: 'Answers its token once; run `vmo-agent` on the VM with it.',
  request: { body: { required: true, content: json(AgentInput.meta({ id: 'AgentInput' })) } },
  responses: {
    201: { description: 'Registered', headers: z.object({ Location: z.string().meta({ description: '`/v1/agents/{id}`' }) }), content: json(RegisteredAgent) },
    ...errorResponses({ ...AUTHENTICATED, 400: ['validation_failed', 'invalid_json'], 409: ['name_taken'] }),
  },
});

export const listAgents = defineRoute({
  method: 'get',
  path: '/v1/agents',
  operationId: 'listAgents',
  tags: ['agents'],
  summary: 'List agents',
  request: { query: ListAgentsQuery },
  responses: { 200: { description: 'A page of agents', content: json(AgentPage) }, ...errorResponses(AUTHENTICATED) },
});

export const getAgent = defineRoute({
  method: 'get',
  path: '/v1/agents/{id}',
  operationId: 'getAgent',
  tags: ['agents'],
  summary: 'An agent',
  request: { params: AgentIdParams },
  responses: { 200: { description: 'The agent', content: json(Agent) }, ...errorResponses(AGENT_NOT_FOUND) },
});

export const updateAgent = defineRoute({
  method: 'patch',
  path: '/v1/agents/{id}',
  operationId: 'updateAgent',
  tags: ['agents'],
  summary: 'Change an agent',
  description:
    'Any subset of the fields. `labels` replaces the labels given at registration (those the agent reports stay its own); `maxConcurrentJobs: null` removes the limit. A new limit applies to jobs that start after it: running jobs go on, and jobs waiting for a slot start at once when it rises.',
  request: { params: AgentIdParams, body: { required: true, content: json(AgentPatch.meta({ id: 'AgentPatch' })) } },
  responses: {
    200: { description: 'The agent after the change', content: json(Agent) },
    ...errorResponses({ ...AGENT_NOT_FOUND, 400: ['validation_failed', 'invalid_json'] }),
  },
});

export const revokeAgent = defineRoute({
  method: 'delete',
  path: '/v1/agents/{id}',
  operationId: 'revokeAgent',
  tags: ['agents'],
  summary: 'Revoke an agent',
  description: 'Its token is refused from now on, its socket is closed (4401) and its jobs end `failed` with `agent_revoked`.',
  request: { params: AgentIdParams },
  responses: { 204: { description: 'Revoked' }, ...errorResponses(AGENT_NOT_FOUND) },
});

export const rotateAgentToken = defineRoute({
  method: 'post',
  path: '/v1/agents/{id}/rotate-token',
  operationId: 'rotateAgentToken',
  tags: ['agents'],
  summary: "Replace an agent's token",
  description: [
    'Admin only (scope `agents:write`). Answers the new token once. The old one is refused from now on, and the agent\'s live connection is closed (4410).',
    '',
    'The new token is not sent to the agent: install it in the agent\'s token file (`<state-dir>/agent.token`, or its `--token-file`), mode 0600. The agent waits for it there, keeping its jobs running, and reconnects with it; its jobs resume if it is back within the lost-agent grace.',
  ].join('\n'),
  request: { params: AgentIdParams },
  responses: { 200: { description: 'The agent with its new token', content: json(RegisteredAgent) }, ...errorResponses(AGENT_NOT_FOUND) },
});
