/**
 * Issue 9 #5: the routes are built from their contracts (@vmo/shared/api), the OpenAPI 3.1
 * document is served at GET /v1/openapi.json without a token, an independent validator accepts it,
 * it lists every route the app answers (and the two WebSocket endpoints), and what the routes
 * answer matches what the document says: every status they give is documented, with a body its
 * schema accepts.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { agentConnect, agentShell, REST_ROUTES, streamJob, WEBSOCKET_ROUTES, type ApiRoute } from '@vmo/shared/api';
import { AGENT_SHELL_PATH } from '../src/shells/shell-upgrade.ts';
import { STREAM_PATH } from '../src/streams/stream-upgrade.ts';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>> };
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('the OpenAPI document (in-process)', () => {
  let fixture: InProcessApp;
  let app: InProcessApp['app'];
  let token: string;
  let doc: Doc;

  beforeAll(async () => {
    fixture = await startInProcessApp('openapi');
    ({ app, token } = fixture);
    const res = await app.request('/v1/openapi.json');
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
  });
  afterAll(() => fixture?.close());

  it('is served without a token, as OpenAPI 3.1, and an independent validator accepts it', async () => {
    expect(doc.openapi).toBe('3.1.0');
    // swagger-parser validates against the official 3.1 schema and checks every $ref resolves.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('lists exactly the routes the app answers, plus the two WebSocket endpoints', () => {
    const served = app.routes
      .filter((r) => r.method !== 'ALL') // middleware (`/v1/*`)
      .map((r) => `${r.method} ${r.path.replaceAll(/:([^/]+)/g, '{$1}')}`);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`));
    const websocket = WEBSOCKET_ROUTES.map((r) => `GET ${r.path}`);
    expect(new Set(served).size).toBe(served.length); // no route registered twice
    expect([...served, ...websocket].sort()).toEqual(documented.sort());
    // Every contract is served (or, for the WebSocket ones, documented).
    expect(REST_ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort()).toEqual(served.sort());
  });

  it('documents the WebSocket endpoints the server answers: upgrade, auth, close codes, ?after=', () => {
    // The server finds the stream by the contract's path (STREAM_PATH) and the agent endpoint by agentConnect.path.
    expect(STREAM_PATH.exec('/v1/jobs/job_0123456789abcdefghij/stream')?.[1]).toBe('job_0123456789abcdefghij');
    expect(streamJob.path).toBe('/v1/jobs/{id}/stream');
    expect(agentConnect.path).toBe('/v1/agent/connect');
    const stream = doc.paths['/v1/jobs/{id}/stream']!.get! as { description: string; responses: Record<string, unknown>; parameters: { name: string; in: string }[] };
    expect(Object.keys(stream.responses)).toContain('101');
    for (const text of ['vmo.v1', 'bearer.<token>', 'Authorization', '`1000`', '`1008`', '`1009`', '`1012`', '`4008`', '?after=']) expect(stream.description).toContain(text);
    expect(stream.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'after', in: 'query' }), expect.objectContaining({ name: 'id', in: 'path' })]));
    const agent = doc.paths['/v1/agent/connect']!.get! as { description: string; responses: Record<string, unknown>; security: unknown[] };
    expect(Object.keys(agent.responses)).toContain('101');
    expect(agent.security).toEqual([{ agentToken: [] }]);
    for (const code of ['`1012`', '`4401`', '`4409`']) expect(agent.description).toContain(code);
  });

  it('documents the shell upgrade (issue 17) where the server answers it: query, 101, its refusals', () => {
    expect(agentShell.path).toBe('/v1/agents/{id}/shell');
    expect(AGENT_SHELL_PATH.exec('/v1/agents/web-1/shell')?.[1]).toBe('web-1');
    const shell = doc.paths['/v1/agents/{id}/shell']!.get! as { description: string; responses: Record<string, unknown>; parameters: { name: string; in: string }[] };
    expect(Object.keys(shell.responses).sort()).toEqual(['101', '400', '401', '403', '404', '409', '429', '503']);
    expect(shell.parameters.map((p) => `${p.in}:${p.name}`).sort()).toEqual(['path:id', 'query:cols', 'query:command', 'query:offset', 'query:rows', 'query:session']);
    for (const text of ['hello', 'resize', '`4404`', 'offset', 'reset']) expect(shell.description).toContain(text);
  });

  it('enumerates every registered error code in the shared error schema', async () => {
    const { HTTP_ERROR_CODES } = await import('@vmo/shared/errors');
    const schema = (doc as unknown as { components: { schemas: Record<string, any> } }).components.schemas.Error;
    expect(schema.properties.error.properties.code.enum).toEqual(HTTP_ERROR_CODES);
  });

  it('serves the docs page, which renders the document', async () => {
    const res = await app.request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('/v1/openapi.json');
  });

  /** Call a route and check its answer against its contract: the status is documented and the body fits the schema. */
  async function conforms(route: ApiRoute, path: string, init: { body?: unknown; raw?: string; token?: string | null } = {}) {
    const headers: Record<string, string> = {};
    if (init.token !== null) headers.authorization = `Bearer ${init.token ?? token}`;
    const body = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
    const res = await app.request(path, { method: route.method.toUpperCase(), headers, ...(body === undefined ? {} : { body }) });
    const documented = route.responses[res.status];
    expect(documented, `${route.method} ${route.path} answered ${res.status}, which its contract does not list`).toBeDefined();
    expect(doc.paths[route.path]![route.method]!.responses[String(res.status)]).toBeDefined();
    const json = documented!.content?.['application/json']?.schema as z.ZodType | undefined;
    const text = await res.text();
    if (json) {
      const parsed = json.safeParse(JSON.parse(text));
      expect(parsed.success, `${route.method} ${route.path} ${res.status}: ${parsed.error?.message} in ${text}`).toBe(true);
    }
    for (const name of Object.keys((documented!.headers?.shape ?? {}) as object)) {
      const optional = (documented!.headers!.shape as Record<string, z.ZodType>)[name]!.safeParse(undefined).success;
      if (!optional) expect(res.headers.get(name), `${route.path} ${res.status} header ${name}`).not.toBeNull();
    }
    return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
  }

  it('answers only what each contract documents, with bodies its schemas accept', async () => {
    const byId = Object.fromEntries(REST_ROUTES.map((r) => [r.operationId, r])) as Record<string, ApiRoute>;
    const job = await conforms(byId.submitJob!, '/v1/jobs', { body: { command: 'echo hi', labels: { team: 'ops' } } });
    expect(job.status).toBe(201);
    await conforms(byId.submitJob!, '/v1/jobs', { raw: '{"command":' });
    await conforms(byId.submitJob!, '/v1/jobs', { body: { command: 'ls', target: { type: 'agent', agent: 'nope' } } });
    await conforms(byId.submitJob!, '/v1/jobs', { body: { command: 'ls' }, token: null });
    await conforms(byId.listJobs!, '/v1/jobs?limit=2');
    await conforms(byId.listJobs!, '/v1/jobs?limit=0');
    await conforms(byId.getJob!, `/v1/jobs/${job.body.id}`);
    await conforms(byId.getJob!, '/v1/jobs/job_0123456789abcdefghij');
    await conforms(byId.getJob!, '/v1/jobs/a%00b');
    await conforms(byId.jobLogs!, `/v1/jobs/${job.body.id}/logs?format=ndjson`);
    await conforms(byId.jobLogs!, `/v1/jobs/${job.body.id}/logs?after=x`);
    expect((await conforms(byId.cancelJob!, `/v1/jobs/${job.body.id}/cancel`, { body: { graceMs: 0 } })).status).toBe(202);
    expect((await conforms(byId.cancelJob!, `/v1/jobs/${job.body.id}/cancel`)).status).toBe(409);

    const agent = await conforms(byId.registerAgent!, '/v1/agents', { body: { name: 'vm-openapi' } });
    expect(agent.status).toBe(201);
    await conforms(byId.registerAgent!, '/v1/agents', { body: { name: 'vm-openapi' } });
    await conforms(byId.listAgents!, '/v1/agents');
    await conforms(byId.getAgent!, '/v1/agents/vm-openapi');
    await conforms(byId.getAgent!, '/v1/agents/vm-openapi', { token: agent.body.token });
    expect((await conforms(byId.revokeAgent!, '/v1/agents/vm-openapi')).status).toBe(204);
    await conforms(byId.revokeAgent!, '/v1/agents/vm-openapi');

    const host = await conforms(byId.createHost!, '/v1/hosts', { body: { name: 'db-1', host: '10.0.0.5', user: 'deploy' } });
    expect(host.status).toBe(201);
    await conforms(byId.createHost!, '/v1/hosts', { body: { name: 'db-1', host: '10.0.0.5', user: 'deploy' } });
    await conforms(byId.listHosts!, '/v1/hosts');
    await conforms(byId.getHost!, '/v1/hosts/db-1@default');
    await conforms(byId.updateHost!, '/v1/hosts/db-1', { body: { port: 2222 } });
    await conforms(byId.updateHost!, '/v1/hosts/db-1', { body: { port: 'x' } });
    await conforms(byId.importHosts!, '/v1/hosts/import', { body: { config: 'Host web-1\n  HostName 10.0.0.6\n  User deploy\n' } });
    await conforms(byId.importHosts!, '/v1/hosts/import', { body: { config: 'Host\n' } });
    expect((await conforms(byId.deleteHost!, `/v1/hosts/${host.body.id}`)).status).toBe(204);
    await conforms(byId.deleteHost!, `/v1/hosts/${host.body.id}`);
    expect((await conforms(byId.previewTargets!, '/v1/targets?selector=role%3Dweb&kinds=agent,ssh')).status).toBe(200);
    expect((await conforms(byId.previewTargets!, '/v1/targets?selector=role%20in%20web')).status).toBe(400);

    // Issue 17: recorded shell sessions (the e2e in test/shell/ fills them; here the shapes and refusals).
    expect((await conforms(byId.listSessions!, '/v1/sessions?limit=5')).status).toBe(200);
    expect((await conforms(byId.listSessions!, '/v1/sessions?cursor=nope')).status).toBe(400);
    expect((await conforms(byId.listSessions!, '/v1/sessions', { token: null })).status).toBe(401);
    expect((await conforms(byId.sessionLogs!, '/v1/sessions/shs_0123456789abcdefghij/logs')).status).toBe(404);
    expect((await conforms(byId.sessionLogs!, '/v1/sessions/nope/logs')).status).toBe(400);

    await conforms(byId.health!, '/health', { token: null });
    await conforms(byId.ready!, '/health/ready', { token: null });
    await conforms(byId.openapi!, '/v1/openapi.json', { token: null });
  });
});
