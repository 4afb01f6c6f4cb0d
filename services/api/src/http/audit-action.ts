import { REST_ROUTES, WEBSOCKET_ROUTES, type ApiRoute } from '@vmo/shared/api';

/** What the audit trail calls a request: `<resource>.<verb>` and where the resource's id is. */
export interface AuditedRoute {
  action: string;
  /** `jobs`, `agents`, `enrolment_tokens`, …: the first path segment after /v1. */
  resourceType: string;
  /** Whether the path names the resource (`/v1/jobs/{id}/cancel`): its id, or name, as the caller wrote it. */
  hasId: boolean;
}

/** The agent-side endpoints (`/v1/agent/connect`, `/v1/agent/enrol`) act on agents like the rest. */
const RESOURCE_ALIASES: Record<string, string> = { agent: 'agents' };

/**
 * The action of a contract, derived so a new route is audited without a line here: the resource
 * is the path's first segment after /v1 (`enrolment-tokens` → `enrolment_tokens`), the verb its
 * operationId without the resource's own words (`submitJob` → `submit`, `importHosts` →
 * `import`, `rotateAgentToken` → `rotate_token`, `jobLogs` → `logs`), in snake case.
 * `agentConnect` on /v1/agent/connect is `agents.connect`; `getMetrics` on /metrics is `metrics.get`.
 */
export function auditActionOf(route: Pick<ApiRoute, 'path' | 'operationId'>): AuditedRoute {
  // `/v1/jobs/…` → jobs; a route outside /v1 (`/metrics`) is its own first segment.
  const segments = route.path.split('/');
  const first = (segments[1] === 'v1' ? segments[2] : segments[1]) || 'unknown';
  const resourceType = RESOURCE_ALIASES[first] ?? first.replace(/-/g, '_');
  const hasId = /^\/v1\/[^/]+\/\{[^}]+\}/.test(route.path);
  const resourceWords = new Set(first.split('-').flatMap((w) => [w, w.replace(/s$/, ''), w.replace(/ies$/, 'y')]));
  const words = route.operationId.split(/(?=[A-Z])/).map((w) => w.toLowerCase());
  const verbWords = words.filter((w) => !resourceWords.has(w) && !resourceWords.has(w.replace(/s$/, '')));
  return { action: `${resourceType}.${verbWords.join('_') || words.join('_')}`, resourceType, hasId };
}

interface Entry {
  method: string;
  pattern: RegExp;
  /** Literal segments first: `/v1/hosts/import` is not `/v1/hosts/{id}`. */
  params: number;
  audited: AuditedRoute;
}

function entryOf(route: ApiRoute): Entry {
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
  return { method: route.method.toUpperCase(), pattern: new RegExp(`^${source}$`), params: (route.path.match(/\{/g) ?? []).length, audited: auditActionOf(route) };
}

const ENTRIES: Entry[] = [...REST_ROUTES, ...WEBSOCKET_ROUTES].map(entryOf).sort((a, b) => a.params - b.params);

/** The contract a request is for, as the audit names it; undefined when no route has that method and path. */
export function auditedRouteFor(method: string, path: string): AuditedRoute | undefined {
  const m = method.toUpperCase();
  return ENTRIES.find((e) => e.method === m && e.pattern.test(path))?.audited;
}

/** The path's second segment after /v1 (`/v1/agents/web-1` → `web-1`), decoded as Hono decodes it. */
export function resourceIdInPath(path: string): string | null {
  const segment = path.split('/')[3];
  if (segment === undefined || segment === '') return null;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
