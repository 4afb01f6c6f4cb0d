import type { ActorKind, AuditResult } from '../domain/access.ts';

/**
 * One audit row as a writer takes it (issue 11 §Audit); `id` and `at` are the database's.
 *
 * LOUD: nothing here may carry a token, a secret, an env value or a request body. Writers build
 * events from the route, the principal, the path, the answer's id and names, and an error's code:
 * never from what a client sent in a body or a header other than the request id.
 */
export interface AuditEvent {
  actorKind: ActorKind;
  /** The user's id (user, proxy), the agent's id (agent); null for the bootstrap admin and anonymous callers. */
  actorId: string | null;
  actorName: string | null;
  tokenId: string | null;
  /** `<resource>.<verb>`: `jobs.submit`, `agents.revoke`, `auth.denied`, … */
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  /** Agent and host names the action concerned, when known (at most MAX_AUDIT_TARGETS). */
  targets: string[] | null;
  /** The client: the socket's peer, or the address a trusted proxy forwarded. */
  sourceIp: string | null;
  requestId: string | null;
  result: AuditResult;
  status: number | null;
  /** Codes and counts (`{code, field}`, `{targetCount}`), never values a client sent. */
  detail: Record<string, unknown> | null;
}

/** A row names this many targets at most; `detail.targetCount` says how many there were. */
export const MAX_AUDIT_TARGETS = 100;
