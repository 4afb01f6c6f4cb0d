import { OpenAPIHono } from '@hono/zod-openapi';
import { getAgent, listAgents, registerAgent, revokeAgent, rotateAgentToken, updateAgent } from '@vmo/shared/api';
import { agentsReadableWhere, mayReadAgentId } from '@vmo/shared/access';
import * as agents from '@vmo/shared/agents';
import { deniedByPolicy } from '@vmo/shared/audit';
import { notFound } from '@vmo/shared/errors';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { grantsOf } from '../access/request-grants.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/**
 * /v1/agents: register (the token is answered once), list, read, change (labels, maxConcurrentJobs), revoke. `{id}` also takes a name.
 * Reading is per policy (issue 11: the agents a policy lets the caller read, any other is 404 as if
 * there were none); writing is admins' only (the agents:write scope).
 */
export function agentRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(app, registerAgent, async (c, input) => {
    const agent = await agents.registerAgent(cp, await input.body());
    c.header('Location', `/v1/agents/${agent.id}`);
    return c.json(agent, 201);
  }, { scope: 'agents:write' });
  openapiRoute(app, listAgents, async (c, input) => {
    const visibleTo = agentsReadableWhere(await grantsOf(c, cp));
    return c.json(await agents.listAgents(cp, { ...input.query(), ...(visibleTo ? { visibleTo } : {}) }), 200);
  }, { scope: 'agents:read' });
  openapiRoute(app, getAgent, async (c, input) => {
    const { id } = input.params();
    const agent = await agents.getAgent(cp, id);
    // Judged on its REGISTERED labels (never what it reports about itself), as the listing's SQL.
    if (!(await mayReadAgentId(cp.database.sql, await grantsOf(c, cp), agent.id))) throw deniedByPolicy(notFound('agent', id));
    return c.json(agent, 200);
  }, { scope: 'agents:read' });
  openapiRoute(app, updateAgent, async (c, input) => c.json(await agents.updateAgent(cp, input.params().id, await input.body()), 200), { scope: 'agents:write' });
  openapiRoute(app, revokeAgent, async (c, input) => {
    await agents.revokeAgent(cp, input.params().id);
    return c.body(null, 204);
  }, { scope: 'agents:write' });
  // The new token is answered once and never sent to the agent (agents/rotate-agent-token.ts says why).
  openapiRoute(app, rotateAgentToken, async (c, input) => c.json(await agents.rotateAgentToken(cp, input.params().id), 200), { scope: 'agents:write' });

  return app;
}
