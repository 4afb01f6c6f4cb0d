import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { Scalar } from '@scalar/hono-api-reference';
import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { docsPage, EventsMessage, OPENAPI_PATH, openapiDocument, RunStreamMessage, StreamMessage, WEBSOCKET_ROUTES } from '@vmo/shared/api';
import { AppError, errorBody } from '@vmo/shared/errors';
import type { BusSubscriber } from '@vmo/shared/bus';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { Logger } from '@vmo/shared/logger';
import { DEFAULT_MAX_RUN_TARGETS } from '@vmo/shared/runs';
import type { AuthEnv } from './auth/principal.ts';
import { requireUser, restAuthRequest } from './auth/require-user.ts';
import type { TokenStore } from './auth/token-store.ts';
import { MAX_BODY_BYTES } from './env.ts';
import { AuditWriter } from '@vmo/shared/audit';
import { auditRequests } from './http/audit.ts';
import { trustedProxyOf } from './http/audit-source.ts';
import { limitBody } from './http/body-limit.ts';
import { createErrorHandler } from './http/on-error.ts';
import { openapiRoute } from './http/openapi-route.ts';
import { OriginPolicy, requireAllowedOrigin } from './http/origin.ts';
import { limitFailedAuth, type FailedAuthLimiter } from './http/rate-limit-auth.ts';
import { requestId } from './http/request-id.ts';
import { accessLog } from './http/access-log.ts';
import { dashboardRoutes } from './http/dashboard.ts';
import { agentDownloadRoutes } from './routes/agent-download.ts';
import { agentEnrolRoutes } from './routes/agent-enrol.ts';
import { agentRoutes } from './routes/agents.ts';
import { auditRoutes } from './routes/audit.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { enrolmentTokenRoutes } from './routes/enrolment-tokens.ts';
import { healthRoutes } from './routes/health.ts';
import { hostRoutes } from './routes/hosts.ts';
import { jobRoutes } from './routes/jobs.ts';
import { countRequestStoreErrors, metricsRoutes } from './routes/metrics.ts';
import { policyRoutes } from './routes/policies.ts';
import { projectRoutes } from './routes/projects.ts';
import { runRoutes } from './routes/runs.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { commandRoutes } from './routes/commands.ts';
import { operationRoutes } from './routes/operations.ts';
import { templateRoutes } from './routes/templates.ts';
import { workspaceRoutes } from './routes/workspaces.ts';
import { targetRoutes } from './routes/targets.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { userRoutes } from './routes/users.ts';
import { usageRoutes } from './routes/usage.ts';
import { snapshotRoutes } from './routes/snapshots.ts';
import { workspaceSessionRoutes } from './routes/workspace-sessions.ts';

export interface AppDeps {
  cp: ControlPlane;
  tokens: TokenStore;
  log: Logger;
  /** VMO_MAX_RUN_TARGETS (default 10,000). */
  maxRunTargets?: number;
  /** Where audit rows go (one per API process, shared with the upgrade path); default: a writer of its own. */
  audit?: AuditWriter;
  /** VMO_ALLOWED_ORIGINS (default: the API's own origin only). */
  origins?: OriginPolicy;
  /** VMO_AUTH_FAIL_RATE (default here: no limit). */
  authFailures?: FailedAuthLimiter;
  /** VMO_SUBMIT_RATE: run after the token check on POST /v1/jobs and POST /v1/runs (default here: no limit). */
  limitSubmissions?: MiddlewareHandler<AuthEnv>;
  /** VMO_METRICS_TOKEN: may read GET /metrics (as admins may). */
  metricsToken?: string | undefined;
  /** VMO_DASHBOARD_DIR: the web dashboard's built files, served at / (none: no dashboard routes). */
  dashboardDir?: string | undefined;
  /** The node's bus subscriber: live operation logs hear of new lines at once (without it they poll Postgres). */
  bus?: BusSubscriber | undefined;
}

/**
 * The REST API, every route built from its contract in @vmo/shared/api, and the OpenAPI 3.1
 * document of all of it (the WebSocket endpoints, served beside the app by server.ts, included).
 */
export function createApp({ cp, tokens, log, audit = new AuditWriter({ sql: cp.database.sql, log }), maxRunTargets = DEFAULT_MAX_RUN_TARGETS, origins = new OriginPolicy([]), authFailures, limitSubmissions, metricsToken, dashboardDir, bus }: AppDeps) {
  const app = new OpenAPIHono<AuthEnv>();
  app.use('*', requestId());
  app.use('*', accessLog(log)); // one line per request, with the request id answered as X-Request-Id
  app.onError(createErrorHandler(log));
  app.notFound((c) => c.json(errorBody(new AppError(404, 'not_found', `no route for ${c.req.method} ${c.req.path}`)), 404));

  app.use('*', countRequestStoreErrors());
  app.route('/', healthRoutes(cp));
  app.route('/', metricsRoutes({ tokens, audit, log, metricsToken, authFailures }));
  // LOUD: registered before the /v1 middleware, so the document needs no token: Hono runs a
  // request's handlers in the order they were added, and this one answers without calling next().
  let document: Record<string, unknown> | undefined; // the same for the life of the app: built on first request
  openapiRoute(app, openapiDocument, (c) => c.json((document ??= apiDocument(app)), 200));
  const docs = Scalar({ url: OPENAPI_PATH, pageTitle: 'vmo API' });
  openapiRoute(app, docsPage, (c) => docs(c as never, async () => {}) as Promise<Response>);

  // First on /v1: every refusal below (origin, body limit, token, scope, policy) is recorded too.
  app.use('/v1/*', auditRequests({ writer: audit, log, isTrustedProxy: trustedProxyOf(tokens) }));
  // A foreign web page is refused before its token is looked at (http/origin.ts).
  app.use('/v1/*', requireAllowedOrigin(origins));
  app.use('/v1/*', limitBody(MAX_BODY_BYTES));
  if (authFailures) app.use('/v1/*', limitFailedAuth(authFailures, tokens.proxy));
  // LOUD: before requireUser, like the document above: authenticated by an enrolment token, which
  // no user-token check would accept; it answers without calling next().
  app.route('/', agentEnrolRoutes(cp));
  // The same: the agent and its installer need no credential, whoami takes an agent token.
  app.route('/', agentDownloadRoutes(cp));
  app.use('/v1/*', requireUser(tokens));
  // A schedule's trigger and a saved command's run are submissions too; ticks are not (they come from the workers, not from a request).
  if (limitSubmissions) app.on('POST', ['/v1/jobs', '/v1/runs', '/v1/schedules/:id/trigger', '/v1/commands/:name/run', '/v1/projects/:alias/targets/:target/run'], limitSubmissions);
  app.route('/', jobRoutes(cp));
  app.route('/', agentRoutes(cp));
  app.route('/', enrolmentTokenRoutes(cp));
  app.route('/', hostRoutes(cp));
  app.route('/', targetRoutes(cp));
  app.route('/', runRoutes(cp, { maxTargets: maxRunTargets }));
  app.route('/', scheduleRoutes(cp, { maxTargets: maxRunTargets }));
  app.route('/', commandRoutes(cp, { maxTargets: maxRunTargets }));
  // GET …/targets submits a discovery job when it must: counted by the same limit, in the route.
  app.route('/', projectRoutes(cp, { audit, log, isTrustedProxy: trustedProxyOf(tokens), limitSubmissions }));
  app.route('/', templateRoutes(cp));
  app.route('/', workspaceRoutes(cp));
  app.route('/', operationRoutes(cp, { bus }));
  app.route('/', policyRoutes(cp));
  app.route('/', userRoutes(cp));
  app.route('/', tokenRoutes(cp));
  app.route('/', auditRoutes(cp));
  app.route('/', sessionRoutes(cp));
  app.route('/', usageRoutes(cp));
  app.route('/', snapshotRoutes(cp)); // a workspace's snapshots (issue 18)
  app.route('/', workspaceSessionRoutes(cp)); // scheduled sessions of a workspace (issue 18)
  // Last: any GET no route above answered may be one of the dashboard's pages (http/dashboard.ts).
  if (dashboardDir !== undefined) app.route('/', dashboardRoutes({ dir: dashboardDir, log, signedInByProxy: (c) => tokens.proxy?.applies(restAuthRequest(c)) ?? false }));

  for (const route of WEBSOCKET_ROUTES) app.openAPIRegistry.registerPath(route);
  // Not referenced by any route (its frames travel after the 101), so generated on its own and added as a component.
  const { StreamMessage: streamMessage } = new OpenApiGeneratorV31([{ type: 'schema', schema: StreamMessage }]).generateComponents().components!.schemas!;
  app.openAPIRegistry.registerComponent('schemas', 'StreamMessage', streamMessage!);
  const { RunStreamMessage: runStreamMessage } = new OpenApiGeneratorV31([{ type: 'schema', schema: RunStreamMessage }]).generateComponents().components!.schemas!;
  app.openAPIRegistry.registerComponent('schemas', 'RunStreamMessage', runStreamMessage!);
  const { EventsMessage: eventsMessage } = new OpenApiGeneratorV31([{ type: 'schema', schema: EventsMessage }]).generateComponents().components!.schemas!;
  app.openAPIRegistry.registerComponent('schemas', 'EventsMessage', eventsMessage!);
  app.openAPIRegistry.registerComponent('securitySchemes', 'userToken', { type: 'http', scheme: 'bearer', description: "A user's API token (`vmo_usr_…`, POST /v1/tokens), or the bootstrap admin token (`vmo_adm_…`) printed at first start or set by VMO_ADMIN_TOKEN. Behind a trusted auth proxy (VMO_TRUSTED_PROXIES) the proxy's user header stands in for a token. A route's scopes (listed on it) must be in the caller's role and, for a scoped token, among its scopes." });
  app.openAPIRegistry.registerComponent('securitySchemes', 'agentToken', { type: 'http', scheme: 'bearer', description: 'An agent token (`vmo_agt_…`), answered once by POST /v1/agents; only on /v1/agent/connect' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'enrolmentToken', { type: 'http', scheme: 'bearer', description: 'An enrolment token (`vmo_enr_…`), answered once by POST /v1/enrolment-tokens; only on POST /v1/agent/enrol' });
  return app;
}

function apiDocument(app: OpenAPIHono<AuthEnv>): Record<string, unknown> {
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'vmo API',
      version: '1',
      description: 'A distributed job queue with remote agents. Every route but /health*, /docs and this document takes `Authorization: Bearer <token>`. Errors are `{"error":{"code","message","details"?}}`; each status lists its codes.',
    },
    security: [{ userToken: [] }],
  }) as unknown as Record<string, unknown>;
}
