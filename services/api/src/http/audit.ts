import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { namesResource, type AuditEvent, type AuditWriter } from '@vmo/shared/audit';
import { AppError } from '@vmo/shared/errors';
import type { Logger } from '@vmo/shared/logger';
import type { AuthEnv, Principal } from '../auth/principal.ts';
import { recordProxyUserChange } from '../auth/proxy-identity.ts';
import { auditedRouteFor, resourceIdInPath } from './audit-action.ts';
import { auditEventOf, auditResultOf, MUTATING_METHODS } from './audit-event.ts';
import { auditSourceAddress, trustNoProxy } from './audit-source.ts';

export interface AuditOptions {
  writer: AuditWriter;
  log: Logger;
  /** VMO_TRUSTED_PROXIES: a peer for which X-Forwarded-For names the real client. */
  isTrustedProxy?: (address: string) => boolean;
}

/**
 * Records every mutating request (POST, PUT, PATCH, DELETE) with its result, and every denied
 * request of any method (401, 403, a policy's 404), in audit_events (issue 11 §Audit). Mounted on
 * /v1/* before the body limit and the token check, so their refusals are recorded too.
 *
 * LOUD: the row is stored BEFORE the answer leaves: this middleware awaits the writer, and the
 * answer is sent only when it returns. A client that saw its job accepted, its agent revoked or
 * its hosts imported can count on the row, even if the process is killed the instant after. The
 * cost is the INSERT's round trip on mutating and denied requests (shared by concurrent ones);
 * reads that are allowed cost nothing.
 */
export function auditRequests({ writer, log, isTrustedProxy = trustNoProxy }: AuditOptions): MiddlewareHandler<AuthEnv> {
  return async function auditRequest(c, next) {
    // Before the request runs (a DELETE removes what its path named): the id of the agent, host
    // or user a mutating request names by name, one indexed query; none for ids and reads.
    const pathResourceId = MUTATING_METHODS.has(c.req.method) ? await resourceIdInPathOf(writer, c.req.method, c.req.path) : undefined;
    const answered = captureJsonAnswer(c);
    await next();
    const { status } = c.res;
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const principal = c.var.principal as Principal | undefined;
    const sourceIp = () => auditSourceAddress(incoming?.socket.remoteAddress, c.req.header('x-forwarded-for'), isTrustedProxy);
    const requestId = (c.var.requestId as string | undefined) ?? null;
    // A proxy identity seen for the first time was created by this request, whatever it is (a GET
    // too): that user's creation (or email change) is its own row, before the request's.
    await recordProxyUserChange(principal, (event) => storeOrLog(writer, log, event), { sourceIp: sourceIp(), requestId });
    if (!MUTATING_METHODS.has(c.req.method) && auditResultOf(status, c.error) !== 'denied') return;
    const event = auditEventOf({
      method: c.req.method,
      path: c.req.path,
      status,
      error: c.error,
      ...(await readAnswer(c, answered)),
      pathResourceId,
      principal,
      sourceIp: sourceIp(),
      requestId,
    });
    await storeOrLog(writer, log, event);
  };
}

async function resourceIdInPathOf(writer: AuditWriter, method: string, path: string): Promise<string | undefined> {
  const route = auditedRouteFor(method, path);
  const ref = route?.hasId ? resourceIdInPath(path) : null;
  if (!route || ref === null || !namesResource(route.resourceType, ref)) return undefined;
  try {
    return await writer.resourceIdOfName(route.resourceType, ref);
  } catch {
    return undefined; // the row keeps the name as typed; the request itself goes on (and meets the store's outage there)
  }
}

/**
 * Stores the row; when Postgres refuses it past the writer's retries, the row goes to the log
 * at error instead (it holds no secret by construction), and the answer goes out as it was: the
 * action itself happened, and a 5xx now would make the client repeat it.
 */
export async function storeOrLog(writer: AuditWriter, log: Logger, event: AuditEvent): Promise<void> {
  try {
    await writer.record(event);
  } catch (err) {
    log.error({ err, audit: event }, 'audit row could not be stored; it is logged here instead');
  }
}

/**
 * The JSON answer of a success (its id and names), or an error answer's code when no AppError
 * was thrown (the 404 of a path no route has): the object c.json() answered, or else a clone of
 * the answer (the client still gets the body).
 */
async function readAnswer(c: Context, answered: JsonAnswer): Promise<{ answer?: unknown; answerCode?: string }> {
  if (!(c.res.headers.get('content-type') ?? '').startsWith('application/json')) return {};
  // The thrown error is the answer, unless a later middleware answered otherwise (a 401 turned into a 429).
  if (c.res.status >= 300 && c.error && !(c.error instanceof AppError && c.error.status !== c.res.status)) return {};
  try {
    // The object c.json() sent, when the answer is that very response (issue 16: a clone turned the
    // node server's light response into a real one with a stream body, on every mutating request).
    // Through JSON, so the row reads exactly what the client got (a Date as its string).
    const body: unknown = answered.res === c.res ? JSON.parse(JSON.stringify(answered.object)) : await c.res.clone().json();
    if (c.res.status < 300) return { answer: body };
    const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
    return typeof code === 'string' ? { answerCode: code } : {};
  } catch {
    return {};
  }
}

interface JsonAnswer {
  res?: Response;
  object?: unknown;
}

/**
 * Keeps what this request's `c.json()` answered (the object, and the Response it built) for
 * readAnswer, so the answer need not be read back from the response. LOUD: used only when that
 * Response is still `c.res` at the end: an answer replaced later is read from `c.res` as before.
 */
function captureJsonAnswer(c: Context): JsonAnswer {
  const answered: JsonAnswer = {};
  const json = c.json;
  c.json = ((object: unknown, ...rest: unknown[]) => {
    const res = (json as (o: unknown, ...r: unknown[]) => Response)(object, ...rest);
    answered.res = res;
    answered.object = object;
    return res;
  }) as typeof c.json;
  return answered;
}
