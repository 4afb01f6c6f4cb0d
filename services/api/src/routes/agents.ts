import { Hono } from 'hono';
import { z } from 'zod';
import { AgentInput, getAgent, listAgents, registerAgent, revokeAgent } from '@vmo/shared/agents';
import type { ControlPlane } from '@vmo/shared/jobs';
import { storableString } from '@vmo/shared/errors';
import type { AuthEnv } from '../auth/principal.ts';
import { jsonBody, queryParams } from '../http/json-body.ts';
import { pathParam } from '../http/path-param.ts';

const ListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: storableString().max(64).optional(),
  })
  .strict();

export function agentRoutes(cp: ControlPlane) {
  return new Hono<AuthEnv>()
    .post('/', async (c) => {
      const agent = await registerAgent(cp, await jsonBody(c, AgentInput));
      c.header('Location', `/v1/agents/${agent.id}`);
      return c.json(agent, 201);
    })
    .get('/', async (c) => c.json(await listAgents(cp, queryParams(c, ListQuery))))
    .get('/:id', async (c) => c.json(await getAgent(cp, pathParam(c, 'id'))))
    .delete('/:id', async (c) => {
      await revokeAgent(cp, pathParam(c, 'id'));
      return c.body(null, 204);
    });
}
