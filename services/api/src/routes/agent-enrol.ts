import type { IncomingMessage } from 'node:http';
import { OpenAPIHono } from '@hono/zod-openapi';
import { enrolAgent } from '@vmo/shared/api';
import * as agents from '@vmo/shared/agents';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { forbidden, unauthorized } from '@vmo/shared/errors';
import { bearerToken, tokenKind } from '@vmo/shared/tokens';
import type { AuthEnv } from '../auth/principal.ts';
import { markAuthenticated } from '../http/unauthenticated-connections.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/**
 * POST /v1/agent/enrol: `vmo-agent --enrol` exchanges an enrolment token for an agent of its own.
 * Authenticated by the enrolment token alone, so app.ts mounts it before the user-token check.
 * Only this route takes an enrolment token: the user API does not know it (401), the agent
 * endpoint refuses it (403, gateway/agent-gateway.ts).
 */
export function agentEnrolRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  openapiRoute(app, enrolAgent, async (c, input) => {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw unauthorized('enrolment token required: Authorization: Bearer <enrolment token> (vmo_enr_…)');
    if (tokenKind(token) !== 'enrolment') throw forbidden('this endpoint takes an enrolment token (vmo_enr_…), from POST /v1/enrolment-tokens');
    // The body is read after the token's kind and before its use: a bad body uses nothing.
    const body = await input.body();
    const { again, ...enrolled } = await agents.enrolAgent(cp, token, body);
    markAuthenticated((c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket);
    c.header('Location', `/v1/agents/${enrolled.agentId}`);
    if (again) {
      // The same agent, its token rotated: the audit row of this request is its record (200, not 201).
      cp.log.info({ agentId: enrolled.agentId, name: enrolled.name }, 'agent enrolment answered again with a new token (its earlier answer was lost)');
      return c.json(enrolled, 200);
    }
    cp.log.info({ agentId: enrolled.agentId, name: enrolled.name }, 'agent enrolled');
    return c.json(enrolled, 201);
  });
  return app;
}
