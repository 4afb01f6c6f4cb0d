import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { mayReadAgentId, mayReadMachine } from '@vmo/shared/access';
import * as agents from '@vmo/shared/agents';
import { createCommand, deleteCommand, getCommand, listAgentCommands, listCommands, listCommandVersions, listHostCommands, runCommand, updateCommand } from '@vmo/shared/api';
import { deniedByPolicy } from '@vmo/shared/audit';
import * as commands from '@vmo/shared/commands';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { notFound } from '@vmo/shared/errors';
import * as hosts from '@vmo/shared/hosts';
import { grantsOf } from '../access/request-grants.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

export interface CommandRouteOptions {
  /** VMO_MAX_RUN_TARGETS, for a command run on several targets (as POST /v1/runs). */
  maxTargets: number;
}

/**
 * /v1/commands (issue 15): saved commands with typed parameters, their versions, and their runs;
 * and the commands whose default target is an agent or a host.
 *
 * Access: reading takes `commands:read` (viewers have it: a command is a script anyone may read,
 * its secrets are parameters); creating `commands:write` (admins, operators); changing and deleting
 * the same scope, and to be its owner or an admin (the service's 403). Running takes `jobs:run`:
 * it IS a job or run submission, judged by the policies exactly as POST /v1/jobs and /v1/runs
 * (@vmo/shared/commands runCommand). The machine listings take `commands:read` and the machine's
 * own read scope; a machine the policies hide is 404, as its GET is. Every answer that lists or
 * reads commands hides a default target naming a machine the caller may not read (showDefaultTargets).
 */
export function commandRoutes(cp: ControlPlane, { maxTargets }: CommandRouteOptions) {
  const app = new OpenAPIHono<AuthEnv>();
  const actor = async (c: Context<AuthEnv>): Promise<commands.CommandActor> => {
    const p = c.get('principal');
    return { userId: p.userId, name: p.name, admin: (await grantsOf(c, cp)).admin };
  };

  openapiRoute(app, createCommand, async (c, input) => {
    const command = await commands.createCommand(cp, await input.body(), await actor(c));
    c.header('Location', `/v1/commands/${encodeURIComponent(command.name)}`);
    return c.json(command, 201);
  }, { scope: 'commands:write' });

  // Listings and reads hide a default target naming a machine the caller may not read (issue 11).
  const shown = async <T extends { defaultTarget: commands.DefaultTargetInput | null }>(c: Context<AuthEnv>, items: T[]) => commands.showDefaultTargets(cp, await grantsOf(c, cp), items);

  openapiRoute(app, listCommands, async (c, input) => {
    const page = await commands.listCommands(cp, input.query());
    return c.json({ ...page, items: await shown(c, page.items) }, 200);
  }, { scope: 'commands:read' });

  openapiRoute(app, getCommand, async (c, input) => c.json((await shown(c, [await commands.getCommand(cp, input.params().name)]))[0]!, 200), { scope: 'commands:read' });

  openapiRoute(app, updateCommand, async (c, input) => {
    const { name } = input.params();
    return c.json(await commands.updateCommand(cp, name, await input.body(), await actor(c)), 200);
  }, { scope: 'commands:write' });

  openapiRoute(app, deleteCommand, async (c, input) => {
    await commands.deleteCommand(cp, input.params().name, await actor(c));
    return c.body(null, 204);
  }, { scope: 'commands:write' });

  openapiRoute(app, listCommandVersions, async (c, input) => {
    const page = await commands.listCommandVersions(cp, input.params().name, input.query());
    return c.json({ ...page, items: await shown(c, page.items) }, 200);
  }, { scope: 'commands:read' });

  openapiRoute(app, runCommand, async (c, input) => {
    const { name } = input.params();
    const p = c.get('principal');
    const result = await commands.runCommand(cp, name, await input.body(), { userId: p.userId, name: p.name, grants: await grantsOf(c, cp) }, { maxTargets });
    c.header('Location', result.kind === 'job' ? `/v1/jobs/${result.job.id}` : `/v1/runs/${result.run.id}`);
    return c.json(result, 201);
  }, { scope: 'jobs:run' });

  openapiRoute(app, listAgentCommands, async (c, input) => {
    const { id } = input.params();
    const agent = await agents.getAgent(cp, id);
    // As GET /v1/agents/{id}: judged on its REGISTERED labels; a hidden agent is nobody.
    if (!(await mayReadAgentId(cp.database.sql, await grantsOf(c, cp), agent.id))) throw deniedByPolicy(notFound('agent', id));
    // A list default may name another machine too, one the caller may not read.
    return c.json({ items: await shown(c, await commands.commandsForMachine(cp, { kind: 'agent', id: agent.id, name: agent.name })) }, 200);
  }, { scope: ['commands:read', 'agents:read'] });

  openapiRoute(app, listHostCommands, async (c, input) => {
    const { id } = input.params();
    const host = await hosts.getHost(cp, id);
    if (!mayReadMachine(await grantsOf(c, cp), host.labels)) throw deniedByPolicy(notFound('host', id));
    return c.json({ items: await shown(c, await commands.commandsForMachine(cp, { kind: 'ssh', id: host.id, name: host.name, environment: host.environment })) }, 200);
  }, { scope: ['commands:read', 'hosts:read'] });

  return app;
}
