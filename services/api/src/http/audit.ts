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
      ...(await readAnswer(c)),
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
 * was thrown (the 404 of a path no route has). A clone is read: the client still gets the body.
 */
async function readAnswer(c: Context): Promise<{ answer?: unknown; answerCode?: string }> {
  if (!(c.res.headers.get('content-type') ?? '').startsWith('application/json')) return {};
  // The thrown error is the answer, unless a later middleware answered otherwise (a 401 turned into a 429).
  if (c.res.status >= 300 && c.error && !(c.error instanceof AppError && c.error.status !== c.res.status)) return {};
  try {
    const body: unknown = await c.res.clone().json();
    if (c.res.status < 300) return { answer: body };
    const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
    return typeof code === 'string' ? { answerCode: code } : {};
  } catch {
    return {};
  }
}
