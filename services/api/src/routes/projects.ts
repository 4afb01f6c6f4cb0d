import type { IncomingMessage } from 'node:http';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { createProject, deleteProject, getProject, importProjects, listProjectTargets, listProjects, runProjectTarget, updateProject } from '@vmo/shared/api';
import type { AuditWriter } from '@vmo/shared/audit';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { Logger } from '@vmo/shared/logger';
import * as projects from '@vmo/shared/projects';
import { grantsOf } from '../access/request-grants.ts';
import { allows, scopeDenied } from '../auth/permissions.ts';
import { principalKey, type AuthEnv } from '../auth/principal.ts';
import { storeOrLog } from '../http/audit.ts';
import { auditSourceAddress, trustNoProxy } from '../http/audit-source.ts';
import { openapiRoute } from '../http/openapi-route.ts';
import { rateLimited } from '../http/rate-limit.ts';

export interface ProjectRouteDeps {
  /** The API's audit writer: a discovery through GET is recorded by the route itself (below). */
  audit: AuditWriter;
  log: Logger;
  isTrustedProxy?: (address: string) => boolean;
  /** VMO_SUBMIT_RATE's limiter (app.ts): a discovery through GET submits a job, so it counts as POST /v1/jobs does. */
  limitSubmissions?: MiddlewareHandler<AuthEnv> | undefined;
  /** Discoveries one user may hold open at once on this API node (each holds its request up to MAX_DISCOVERY_TIMEOUT_MS). */
  maxHeldDiscoveries?: number;
}

/** Enough for a person or a script discovering a few projects side by side; a loop holding hundreds of requests open is not. */
export const DEFAULT_MAX_HELD_DISCOVERIES = 4;

/**
 * /v1/projects (issue 15 §Projects): Makefile projects, their targets discovered by a job and run
 * as jobs (@vmo/shared/projects). Reading takes `jobs:read`, anything that runs or changes
 * something `jobs:run`; the policies then judge the project's machine (project-access.ts): read
 * to see it, run to act on it, exactly as for a job there.
 *
 * A discovery submitted by GET …/targets is a job the caller started, but the audit middleware
 * records only mutating methods: the route records it (`projects.discover`, the job's id in
 * detail). Only then: a refused GET has its own row from the middleware, and one request never
 * gets two rows.
 */
export function projectRoutes(cp: ControlPlane, { audit, log, isTrustedProxy = trustNoProxy, limitSubmissions, maxHeldDiscoveries = DEFAULT_MAX_HELD_DISCOVERIES }: ProjectRouteDeps) {
  const app = new OpenAPIHono<AuthEnv>();
  /** Per user (principalKey): discoveries this node is waiting for. */
  const held = new Map<string, number>();
  /**
   * A discovery is a job submission held open: counted by VMO_SUBMIT_RATE (its 429 and Retry-After,
   * before anything is created), and at most `maxHeldDiscoveries` at once per user on this node
   * (429 `rate_limited`), since each polls Postgres until its job ends or its bound passes.
   */
  const discovering = async <T>(c: Context<AuthEnv>, discover: () => Promise<T>, opts: { counted?: boolean } = {}): Promise<T> => {
    if (limitSubmissions && !opts.counted) await limitSubmissions(c, async () => {});
    const key = principalKey(c.get('principal'));
    const now = held.get(key) ?? 0;
    if (now >= maxHeldDiscoveries) {
      const refusal = rateLimited(1000, `too many discoveries in progress for your credential (at most ${maxHeldDiscoveries} at once); wait for one to end`);
      c.header('Retry-After', String(refusal.details!.retryAfterSeconds));
      throw refusal;
    }
    held.set(key, now + 1);
    try {
      return await discover();
    } finally {
      const left = (held.get(key) ?? 1) - 1;
      if (left <= 0) held.delete(key);
      else held.set(key, left);
    }
  };
  const actorOf = async (c: Context<AuthEnv>): Promise<projects.ProjectActor> => {
    const p = c.get('principal');
    return { grants: await grantsOf(c, cp), name: p.name, userId: p.userId };
  };
  const recordDiscovery = (c: Context<AuthEnv>, row: projects.ProjectRow) => async (jobId: string) => {
    const p = c.get('principal');
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    await storeOrLog(audit, log, {
      actorKind: p.kind,
      actorId: p.userId,
      actorName: p.name,
      tokenId: p.tokenId,
      action: 'projects.discover',
      resourceType: 'projects',
      resourceId: row.id,
      targets: [projects.machineName(row)],
      sourceIp: auditSourceAddress(incoming?.socket.remoteAddress, c.req.header('x-forwarded-for'), isTrustedProxy),
      requestId: c.get('requestId') ?? null,
      result: 'allowed',
      status: null,
      detail: { alias: row.alias, jobId },
    });
  };

  openapiRoute(app, createProject, async (c, input) => {
    const project = await projects.createProject(cp, await input.body(), await actorOf(c));
    c.header('Location', `/v1/projects/${encodeURIComponent(project.alias)}`);
    return c.json(project, 201);
  }, { scope: 'jobs:run' });

  openapiRoute(app, listProjects, async (c, input) => c.json(await projects.listProjects(cp, await grantsOf(c, cp), input.query()), 200), { scope: 'jobs:read' });

  openapiRoute(app, importProjects, async (c, input) => c.json(await projects.importRegistry(cp, await input.body(), await actorOf(c)), 200), { scope: 'jobs:run' });

  openapiRoute(app, getProject, async (c, input) => {
    const { alias } = input.params();
    return c.json(projects.projectView(await projects.getProject(cp, alias, await grantsOf(c, cp))), 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, updateProject, async (c, input) => {
    const { alias } = input.params();
    const actor = await actorOf(c);
    await projects.getProject(cp, alias, actor.grants); // a hidden project's 404 before its body is read
    return c.json(await projects.updateProject(cp, alias, await input.body(), actor), 200);
  }, { scope: 'jobs:run' });

  openapiRoute(app, deleteProject, async (c, input) => {
    await projects.deleteProject(cp, input.params().alias, await actorOf(c));
    return c.body(null, 204);
  }, { scope: 'jobs:run' });

  openapiRoute(app, listProjectTargets, async (c, input) => {
    const { alias } = input.params();
    const { refresh, timeoutMs } = input.query();
    const actor = await actorOf(c);
    const row = await projects.getProject(cp, alias, actor.grants);
    const cached = refresh ? undefined : projects.cachedTargets(row);
    if (cached) return c.json(cached, 200);
    // Discovering runs a job: what POST /v1/jobs needs, the scope first.
    const principal = c.get('principal');
    if (!allows(principal, 'jobs:run')) throw scopeDenied(principal, 'jobs:run');
    const { hostId } = await projects.projectToActOn(cp, alias, actor);
    return c.json(await discovering(c, () => projects.discoverTargets(cp, row, actor, { timeoutMs, hostId, onSubmitted: recordDiscovery(c, row) })), 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, runProjectTarget, async (c, input) => {
    const { alias, target } = input.params();
    const actor = await actorOf(c);
    const row = await projects.getProject(cp, alias, actor.grants); // a hidden project's 404 before its body is read
    const body = await input.body();
    const run = () => projects.runProjectTarget(cp, alias, target, body, actor, { discoveryTimeoutMs: projects.DEFAULT_DISCOVERY_TIMEOUT_MS });
    // Counted once by the submissions limit already (app.ts, a POST); a first discovery is held like GET's.
    const job = projects.cachedTargets(row) ? await run() : await discovering(c, run, { counted: true });
    c.header('Location', `/v1/jobs/${job.id}`);
    return c.json(job, 201);
  }, { scope: 'jobs:run' });

  return app;
}
