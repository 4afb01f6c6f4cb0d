import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage } from 'node:http';
import { OpenAPIHono } from '@hono/zod-openapi';
import { AGENT_SHA256_HEADER, AGENT_VERSION_HEADER, agentInstallScript, agentWhoami, downloadAgent } from '@vmo/shared/api';
import { agentForToken } from '@vmo/shared/agents';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { errorBody, forbidden, unauthorized, unavailable } from '@vmo/shared/errors';
import { bearerToken, tokenKind } from '@vmo/shared/tokens';
import type { AuthEnv } from '../auth/principal.ts';
import { markAuthenticated } from '../http/unauthenticated-connections.ts';
import { openapiRoute } from '../http/openapi-route.ts';
import { AgentBundle, AgentBundleUnavailable, type BuiltAgent } from './agent-bundle.ts';

/**
 * The agent's sources, beside this service in the repository (and in the image: the Dockerfile
 * copies services/). Read as files, never imported: the API does not depend on the agent
 * (apps/vmo/test/services-stand-alone.test.ts); it serves it, as it would any other asset.
 */
export const AGENT_SOURCE_DIR = fileURLToPath(new URL('../../../agent/', import.meta.url));

/** The line of deploy/install.sh the served copy replaces with its bundle's hash and the systemd unit. */
const SERVED_MARKER = '#@VMO_SERVED_SETTINGS@';
const UNIT_END = 'VMO_AGENT_UNIT_END';

/**
 * GET /v1/agent/download, GET /v1/agent/install.sh (no credential: our code, no secret) and
 * GET /v1/agent/whoami (an agent token). Mounted before the user-token check (app.ts).
 */
export function agentDownloadRoutes(cp: ControlPlane, bundle = new AgentBundle(AGENT_SOURCE_DIR, { log: cp.log })) {
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(app, downloadAgent, async (c) => {
    const built = await builtOr503(bundle);
    if (built instanceof Response) return built as never;
    const headers = { [AGENT_SHA256_HEADER]: built.sha256, [AGENT_VERSION_HEADER]: built.version, ETag: `"${built.sha256}"`, 'Cache-Control': 'no-cache' };
    if (c.req.header('if-none-match')?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === headers.ETag)) {
      return new Response(null, { status: 304, headers }) as never;
    }
    return new Response(built.code, {
      status: 200,
      headers: { ...headers, 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Disposition': 'attachment; filename="vmo-agent.mjs"' },
    }) as never;
  });

  openapiRoute(app, agentInstallScript, async () => {
    const built = await builtOr503(bundle);
    if (built instanceof Response) return built as never;
    const [script, unit] = await servedFiles();
    return new Response(servedInstallScript(script, unit, built.sha256), {
      status: 200,
      headers: { 'Content-Type': 'text/x-shellscript; charset=utf-8', 'Cache-Control': 'no-cache', [AGENT_SHA256_HEADER]: built.sha256 },
    }) as never;
  });

  openapiRoute(app, agentWhoami, async (c) => {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw unauthorized('agent token required: Authorization: Bearer <agent token> (vmo_agt_…)');
    if (tokenKind(token) !== 'agent') throw forbidden('this endpoint takes an agent token (vmo_agt_…), from POST /v1/agents or the enrolment');
    let agent;
    try {
      agent = await agentForToken(cp, token);
    } catch {
      throw unavailable('the control plane cannot reach Postgres; retry');
    }
    // LOUD: thrown, so the failed-auth limit (VMO_AUTH_FAIL_RATE) counts it: this route must not
    // become a way to try agent tokens faster than the agent endpoint allows.
    if (!agent) throw unauthorized('the agent token is unknown or revoked');
    markAuthenticated((c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket);
    return c.json({ id: agent.id, name: agent.name, labels: agent.labels as Record<string, string> }, 200);
  });

  return app;
}

/**
 * The agent, or the 503 to answer while its build is failing (AgentBundle remembers a failure for
 * a minute: the requests meanwhile build nothing). Answered here rather than thrown: the error
 * handler would log each one as a store outage, and the build's cause is logged once, by the bundle.
 */
async function builtOr503(bundle: AgentBundle): Promise<BuiltAgent | Response> {
  try {
    return await bundle.get();
  } catch (err) {
    if (!(err instanceof AgentBundleUnavailable)) throw err;
    return new Response(JSON.stringify(errorBody(unavailable(err.message))), {
      status: 503,
      headers: { 'Content-Type': 'application/json', 'Retry-After': String(err.retryAfterSeconds), 'Cache-Control': 'no-store' },
    });
  }
}

let files: Promise<[script: string, unit: string]> | undefined;

/** deploy/install.sh and deploy/vmo-agent.service, read once per process (a failed read is tried again next time). */
function servedFiles(): Promise<[string, string]> {
  files ??= Promise.all([readFile(`${AGENT_SOURCE_DIR}deploy/install.sh`, 'utf8'), readFile(`${AGENT_SOURCE_DIR}deploy/vmo-agent.service`, 'utf8')]);
  files.catch(() => (files = undefined));
  return files;
}

/**
 * The installer as served: deploy/install.sh with, on its marker line, `served=yes`, the sha256 of
 * the agent this node serves, and served_unit() printing the systemd unit (a served script has no
 * directory to find vmo-agent.service in). The hash goes INTO the script: the installer then checks
 * the agent it downloads against the script it runs, not only against a header of the same answer.
 *
 * LOUD: replaced by a function, never a replacement string: String.replace would expand `$&`, `$'`,
 * `` $` `` and `$$` in the unit (legal in an ExecStart line) into pieces of the script.
 */
export function servedInstallScript(script: string, unit: string, sha256: string): string {
  if (!script.includes(SERVED_MARKER)) throw new Error(`deploy/install.sh has no ${SERVED_MARKER} line`);
  if (unit.split('\n').includes(UNIT_END)) throw new Error(`deploy/vmo-agent.service contains the line ${UNIT_END}`);
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('the agent sha256 must be 64 hex digits');
  const settings = `served=yes\nserved_sha256=${sha256}\nserved_unit() {\n  cat <<'${UNIT_END}'\n${unit.replace(/\n$/, '')}\n${UNIT_END}\n}`;
  return script.replace(SERVED_MARKER, () => settings);
}
