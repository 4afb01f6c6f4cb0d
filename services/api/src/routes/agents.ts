import { OpenAPIHono } from '@hono/zod-openapi';
import { getAgent, listAgents, registerAgent, revokeAgent, rotateAgentToken, updateAgent } from '@vmo/shared/api';
import * as agents from '@vmo/shared/agents';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/** /v1/agents: register (the token is answered once), list, read, change (labels, maxConcurrentJobs), revoke. `{id}` also takes a name. */
export function agentRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(app, registerAgent, async (c, input) => {
    const agent = await agents.registerAgent(cp, await input.body());
    c.header('Location', `/v1/agents/${agent.id}`);
    return c.json(agent, 201);
  }, { scope: 'agents:write' });
  openapiRoute(app, listAgents, async (c, input) => c.json(await agents.listAgents(cp, input.query()), 200), { scope: 'agents:read' });
  openapiRoute(app, getAgent, async (c, input) => c.json(await agents.getAgent(cp, input.params().id), 200), { scope: 'agents:read' });
  openapiRoute(app, updateAgent, async (c, input) => c.json(await agents.updateAgent(cp, input.params().id, await input.body()), 200), { scope: 'agents:write' });
  openapiRoute(app, revokeAgent, async (c, input) => {
    await agents.revokeAgent(cp, input.params().id);
    return c.body(null, 204);
  }, { scope: 'agents:write' });
  // The new token is answered once and never sent to the agent (agents/rotate-agent-token.ts says why).
  openapiRoute(app, rotateAgentToken, async (c, input) => c.json(await agents.rotateAgentToken(cp, input.params().id), 200), { scope: 'agents:write' });

  return app;
}
