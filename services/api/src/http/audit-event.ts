import { isDeniedByPolicy, MAX_AUDIT_TARGETS, type AuditEvent } from '@vmo/shared/audit';
import type { AuditResult } from '@vmo/shared/domain';
import { AppError } from '@vmo/shared/errors';
import type { Principal } from '../auth/principal.ts';
import { auditedRouteFor, resourceIdInPath } from './audit-action.ts';

/** Every request with one of these methods has a row, whatever its answer. */
export const MUTATING_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * allowed: answered below 400. denied: 401, 403, a 429 (a rate limit refused it: the failed
 * authentications' limiter or the submissions', on any method and on stream upgrades, so a brute
 * force past the limit stays on record), and an answer that hides what a policy does not let the
 * caller see (a plain 404 for a hidden job, the 422 of a machine that does not exist for a hidden
 * target: the error carries the mark). failed: everything else
 * (bad input, a conflict, a real 404, a store outage).
 */
export function auditResultOf(status: number, err: unknown): AuditResult {
  if (status === 401 || status === 403 || status === 429 || isDeniedByPolicy(err)) return 'denied';
  return status < 400 ? 'allowed' : 'failed';
}

export interface RequestFacts {
  method: string;
  path: string;
  status: number;
  /** What the handler threw, if anything (Hono's c.error; the upgrade's refusal). */
  error: unknown;
  /** The parsed JSON answer of a 2xx, for the resource's id and names; undefined otherwise. */
  answer?: unknown;
  /** The error answer's code when there is no AppError to read it from (a 404 for no route). */
  answerCode?: string;
  /** The id of what the path names by name (`/v1/agents/web-1`), looked up before the request ran; undefined when unknown. */
  pathResourceId?: string | undefined;
  principal: Principal | undefined;
  sourceIp: string | null;
  requestId: string | null;
}

/**
 * The row for a request. Its action comes from the route's contract (audit-action.ts); a request
 * no credential could be found for is `auth.denied`, with what it attempted in `detail.attempted`.
 *
 * LOUD: from the answer, only ids, names and counts are read, field by field: an answer may carry
 * a token (POST /v1/agents, /v1/tokens) or a job's env, and none of that may reach the table.
 */
export function auditEventOf(f: RequestFacts): AuditEvent {
  const route = auditedRouteFor(f.method, f.path);
  const result = auditResultOf(f.status, f.error);
  const resourceType = route?.resourceType ?? null;
  const facts = f.status < 300 && resourceType ? factsFromAnswer(resourceType, f.answer) : { targets: null, detail: {} };
  const pathId = route?.hasId ? resourceIdInPath(f.path) : null;
  const resourceId = facts.id ?? f.pathResourceId ?? pathId;
  const detail: Record<string, unknown> = { ...facts.detail, ...errorFacts(f) };
  // The row names the resource by its id whenever it is known; the name the path gave is kept
  // beside it, so `?resource=agents/web-1` finds the PATCH and the DELETE of web-1 alike.
  if (pathId !== null && pathId !== resourceId) detail.ref = pathId;
  const action = route?.action ?? 'unknown';
  if (!route) detail.method = f.method;
  if (!route) detail.path = f.path;
  // A 429 before any credential was accepted (the failed authentications' limiter) is a refused
  // sign-in like a 401: `auth.denied`, what it attempted in detail.
  const unauthenticated = f.status === 401 || (f.status === 429 && f.principal === undefined);
  if (unauthenticated) detail.attempted = action;
  const p = f.principal;
  return {
    actorKind: p?.kind ?? 'anonymous',
    actorId: p?.userId ?? null,
    actorName: p?.name ?? null,
    tokenId: p?.tokenId ?? null,
    action: unauthenticated ? 'auth.denied' : action,
    resourceType,
    resourceId,
    targets: facts.targets,
    sourceIp: f.sourceIp,
    requestId: f.requestId,
    result,
    status: f.status,
    detail: Object.keys(detail).length > 0 ? detail : null,
  };
}

/**
 * The row for a proxy identity's user created on first sight (or its email updated) by this
 * request: the proxy's user is the actor, as if it had called POST /v1/users itself. Only the
 * role is in detail: the email is a value the proxy sent.
 */
export function proxyUserEvent(p: Principal, change: 'created' | 'updated', sourceIp: string | null, requestId: string | null): AuditEvent {
  return {
    actorKind: p.kind,
    actorId: p.userId,
    actorName: p.name,
    tokenId: p.tokenId,
    action: change === 'created' ? 'users.create' : 'users.update',
    resourceType: 'users',
    resourceId: p.userId,
    targets: null,
    sourceIp,
    requestId,
    result: 'allowed',
    status: null,
    detail: change === 'created' ? { via: 'proxy', role: p.role } : { via: 'proxy', changed: ['email'] },
  };
}

/** The error's code; for a 400 the field; for a refusal our own message (it names the scope or target, never a value sent). */
function errorFacts(f: RequestFacts): Record<string, unknown> {
  if (f.status < 400) return {};
  // An error that is not the answer (the 401 the failed-authentication limiter turned into a 429) says less than the answer's code.
  if (!(f.error instanceof AppError) || f.error.status !== f.status) return f.answerCode ? { code: f.answerCode } : {};
  const out: Record<string, unknown> = { code: f.error.code };
  if (typeof f.error.details?.field === 'string') out.field = f.error.details.field;
  if (f.status === 401 || f.status === 403 || f.status === 429) out.message = f.error.message;
  return out;
}

type Facts = { id?: string; targets: string[] | null; detail: Record<string, unknown> };

function factsFromAnswer(resourceType: string, answer: unknown): Facts {
  if (!isObject(answer)) return { targets: null, detail: {} };
  const id = typeof answer.id === 'string' ? answer.id : undefined;
  switch (resourceType) {
    case 'jobs':
      return { id, ...targetsFacts([jobTarget(answer)]) };
    case 'runs':
      return { id, ...runFacts(answer) };
    case 'agents':
      // An enrolment answers `agentId` (and the agent's token, never read here).
      return { id: id ?? str(answer.agentId), ...targetsFacts([str(answer.name)]) };
    case 'hosts':
      return { id, ...hostFacts(answer) };
    case 'commands':
      return commandFacts(answer);
    default:
      return { id, targets: null, detail: {} };
  }
}

/** A run child's resolved target, else the target as submitted. */
function jobTarget(job: Record<string, unknown>): string | undefined {
  const named = str(job.targetName);
  if (named) return named;
  const t = job.target;
  if (!isObject(t)) return undefined;
  return t.type === 'local' ? 'local' : (str(t.agent) ?? str(t.host));
}

/** The agents and hosts a run named, its selector, and how many targets it resolved to (the children). */
function runFacts(run: Record<string, unknown>): Omit<Facts, 'id'> {
  const asked = isObject(run.targets) ? run.targets : {};
  const names = [...strings(asked.agents), ...strings(asked.hosts)];
  const facts = targetsFacts(names);
  if (typeof asked.selector === 'string') facts.detail.selector = asked.selector;
  if (typeof run.total === 'number') facts.detail.targetCount = run.total;
  return facts;
}

/**
 * A saved command (issue 15) is named, not numbered: the row's resource is its name and the
 * version written. A run of it: the version run and the job or run it made, with its targets.
 * Never its parameters (a secret one is a value the caller sent).
 */
function commandFacts(answer: Record<string, unknown>): Facts {
  const ran = isObject(answer.command) ? answer.command : undefined;
  if (!ran) return { id: str(answer.name), targets: null, detail: typeof answer.version === 'number' ? { version: answer.version } : {} };
  const facts = isObject(answer.job) ? targetsFacts([jobTarget(answer.job)]) : isObject(answer.run) ? runFacts(answer.run) : { targets: null, detail: {} };
  const made = isObject(answer.job) ? { jobId: str(answer.job.id) } : isObject(answer.run) ? { runId: str(answer.run.id) } : {};
  return { id: str(ran.name), targets: facts.targets, detail: { ...facts.detail, version: ran.version, ...made } };
}

/** One host (create, update), or what an import created and updated, with its counts. */
function hostFacts(answer: Record<string, unknown>): Omit<Facts, 'id'> {
  if (typeof answer.ref === 'string') return targetsFacts([answer.ref]);
  const refs = (list: unknown) => (Array.isArray(list) ? list.map((h) => (isObject(h) ? str(h.ref) : undefined)) : []);
  const facts = targetsFacts([...refs(answer.created), ...refs(answer.updated)]);
  for (const key of ['created', 'updated', 'unchanged', 'skipped']) {
    if (Array.isArray(answer[key])) facts.detail[key] = (answer[key] as unknown[]).length;
  }
  return facts;
}

function targetsFacts(names: (string | undefined)[]): Omit<Facts, 'id'> {
  const known = names.filter((n): n is string => n !== undefined);
  if (known.length === 0) return { targets: null, detail: {} };
  if (known.length <= MAX_AUDIT_TARGETS) return { targets: known, detail: {} };
  return { targets: known.slice(0, MAX_AUDIT_TARGETS), detail: { targetCount: known.length } };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
