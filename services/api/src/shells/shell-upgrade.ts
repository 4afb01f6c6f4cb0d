import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocketServer } from 'ws';
import type postgres from 'postgres';
import { grantCoversAgent, loadGrants, mayReadAgent, mayReadMachine, targetForbidden, type Grants } from '@vmo/shared/access';
import { matchesLabelSelector } from '@vmo/shared/domain';
import { resolveHost } from '@vmo/shared/hosts';
import { deniedByPolicy, type AuditWriter } from '@vmo/shared/audit';
import { findWorkspaceId } from '@vmo/shared/workspaces';
import type { BusSubscriber } from '@vmo/shared/bus';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { AppError, notFound, validationError } from '@vmo/shared/errors';
import { newId } from '@vmo/shared/ids';
import type { Logger } from '@vmo/shared/logger';
import { agentPresence } from '@vmo/shared/presence';
import { ShellQuery } from '@vmo/shared/protocol';
import { getShellSession, insertShellSession, releaseShellSlot, reserveShellSlot } from '@vmo/shared/shells';
import { authenticate } from '../auth/authenticate.ts';
import { allows, scopeDenied } from '../auth/permissions.ts';
import type { Principal } from '../auth/principal.ts';
import type { TokenStore } from '../auth/token-store.ts';
import { storeOrLog } from '../http/audit.ts';
import { auditUpgradePrincipal, upgradeRequestId } from '../http/audit-upgrade.ts';
import { checkedPathValue } from '../http/path-param.ts';
import type { SubmissionCounter } from '../http/rate-limit-submissions.ts';
import { STREAM_CREDENTIAL_REQUIRED, upgradeAuthRequest } from '../http/upgrade-auth.ts';
import type { StreamAccess } from '../streams/stream-access.ts';
import { ShellAttachment } from './shell-attachment.ts';
import type { HostShells } from './host-shells.ts';

/** `GET /v1/agents/{id}/shell` (SHELL.md §S1). */
export const AGENT_SHELL_PATH = /^\/v1\/agents\/([^/]+)\/shell$/;
/** `GET /v1/hosts/{id}/shell` (SHELL.md §S1): an SSH host, no agent. */
export const HOST_SHELL_PATH = /^\/v1\/hosts\/([^/]+)\/shell$/;
/** `GET /v1/workspaces/{id}/shell` (issues 17/18): the shell of the workspace's own agent. */
export const WORKSPACE_SHELL_PATH = /^\/v1\/workspaces\/([^/]+)\/shell$/;

export interface ShellUpgradeDeps {
  cp: ControlPlane;
  tokens: TokenStore;
  bus: BusSubscriber;
  log: Logger;
  audit: AuditWriter;
  subscribers: WebSocketServer;
  /** VMO_SHELL_GRACE_MS: how long a detached session lives (§S4). */
  graceMs: number;
  /** Closes the shell (4401, 4404) when its caller's access ends; the close detaches it from the session. */
  access: StreamAccess;
  /** VMO_SUBMIT_RATE: a new session spawns a PTY on the agent, so it counts as a submission; absent = off. */
  countSubmission?: SubmissionCounter | undefined;
  /** VMO_SHELL_MAX_SESSIONS_PER_TARGET: sessions alive at once on one agent or host; 0 = no limit. */
  maxSessionsPerTarget: number;
}

/**
 * SHELL.md §S1: every refusal before the upgrade, in this order: the credential (401), the
 * `jobs:run` scope (a viewer: 403), VMO_SUBMIT_RATE for a new session (429), the query (400 naming the field), the agent (404 when it does not
 * exist or the caller may not read it: another team's machine), the `run` grant on it (403
 * target_forbidden), the session for a reattach (404), for a new session the target's
 * VMO_SHELL_MAX_SESSIONS_PER_TARGET (429 too_many_sessions), the agent's connection (409). A new session's
 * row and its `shell.open` audit row are written before the 101.
 */
export async function upgradeAgentShell(req: IncomingMessage, socket: Socket, head: Buffer, url: URL, accepted: () => void, deps: ShellUpgradeDeps): Promise<void> {
  await upgradeShell(req, socket, head, url, accepted, deps, AGENT_SHELL_PATH, {
    async find(ref, grants, sql) {
      const [agent] = await sql<{ id: string; name: string; labels: Record<string, string> }[]>`
        select id, name, labels from agents where revoked_at is null and (id = ${ref} or name = ${ref}) limit 1`;
      if (!agent) throw notFound('agent', ref);
      if (!grants.admin) {
        // Another team's machine is nobody to the caller: the same 404, marked for the audit as a policy's.
        if (!mayReadAgent(grants, agent.labels)) throw deniedByPolicy(notFound('agent', ref));
        if (!grantCoversAgent(grants.run, agent.labels)) throw targetForbidden('run', [agent.name]);
      }
      return { kind: 'agent', id: agent.id, name: agent.name };
    },
    async ready(agent) {
      if ((await agentPresence(deps.cp, agent.id)) === 'offline') {
        throw new AppError(409, 'agent_not_connected', `agent ${JSON.stringify(agent.name)} is not connected: a shell needs it online`);
      }
    },
  });
}

/**
 * `GET /v1/hosts/{id}/shell` (SHELL.md §S1): the same refusals, in the same order, with the host
 * judged as POST /v1/jobs judges an ssh target (access/may-run.ts): `{id}` is a `hst_…` id,
 * `name@environment` or a bare name resolved among the hosts the caller may read; a hidden one is
 * the same 404 as none; a readable one without a `run` grant 403 target_forbidden. A new session is
 * held by this node (host-shells.ts) before the 101.
 */
export async function upgradeHostShell(req: IncomingMessage, socket: Socket, head: Buffer, url: URL, accepted: () => void, deps: ShellUpgradeDeps & { hostShells: HostShells }): Promise<void> {
  await upgradeShell(req, socket, head, url, accepted, deps, HOST_SHELL_PATH, {
    async find(ref, grants) {
      const db = deps.cp.database.db;
      // A bare name resolves among the readable hosts only (ambiguous_host among them): no existence oracle.
      const host = await resolveHost(db, ref, grants.admin ? undefined : (h) => mayReadMachine(grants, h.labels));
      if (!host) {
        const hidden = !grants.admin && (await resolveHost(db, ref).catch(() => undefined)) !== undefined;
        throw hidden ? deniedByPolicy(notFound('host', ref)) : notFound('host', ref);
      }
      const name = `${host.name}@${host.environment}`;
      if (!grants.admin && !grants.run.selectors.some((s) => matchesLabelSelector(s, host.labels))) throw targetForbidden('run', [name]);
      return { kind: 'host', id: host.id, name, holderNode: deps.hostShells.nodeId };
    },
    async ready(host, session, create) {
      if (create) await deps.hostShells.hold(host.id, session);
    },
  });
}

/**
 * `GET /v1/workspaces/{id}/shell` (issues 17/18): the agent shell on the workspace's own agent, with
 * the same refusals in the same order (401, jobs:run scope 403, rate 429, query 400), then the
 * workspace as its REST routes judge it: its owner's and the admins' (no policy on its agent is
 * needed, as for a job targeting one's own workspace), anyone else's is 404 as if it did not exist.
 * Its agent must be connected (409: stopped or still starting). The session is an agent session
 * (target = the agent), so recording, replay, audit and the lifecycle's activity are the agent's.
 */
export async function upgradeWorkspaceShell(req: IncomingMessage, socket: Socket, head: Buffer, url: URL, accepted: () => void, deps: ShellUpgradeDeps): Promise<void> {
  let workspaceName = '';
  await upgradeShell(req, socket, head, url, accepted, deps, WORKSPACE_SHELL_PATH, {
    async find(ref, grants, sql, principal) {
      const found = await findWorkspaceId(sql, ref, { userId: principal.userId, name: principal.name, admin: grants.admin });
      if (!found) throw notFound('workspace', ref);
      // Someone else's workspace is nobody's to the caller: the same 404, marked for the audit as a refusal.
      if (found.hidden) throw deniedByPolicy(notFound('workspace', ref));
      const [ws] = await sql<{ name: string; deleted_at: Date | null; agent_id: string | null; agent_name: string | null }[]>`
        select w.name, w.deleted_at, a.id as agent_id, a.name as agent_name
        from workspaces w left join agents a on a.id = w.agent_id and a.revoked_at is null
        where w.id = ${found.id}`;
      if (!ws || ws.deleted_at !== null) throw notFound('workspace', ref);
      workspaceName = ws.name;
      if (ws.agent_id === null) throw new AppError(409, 'agent_not_connected', `workspace ${JSON.stringify(ws.name)} has no agent: a shell needs it running`);
      return { kind: 'agent', id: ws.agent_id, name: ws.agent_name!, workspaceId: found.id };
    },
    async ready(agent) {
      if ((await agentPresence(deps.cp, agent.id)) === 'offline') {
        throw new AppError(409, 'agent_not_connected', `workspace ${JSON.stringify(workspaceName)} has no connected agent (stopped, or still starting): start it (vmo workspaces start ${workspaceName}) and try again`);
      }
    },
  });
}

interface ShellTarget {
  kind: 'agent' | 'host';
  id: string;
  name: string;
  /** A workspace's shell: its agent's, judged by the workspace (its owner and the admins), not by policies on the agent. */
  workspaceId?: string;
  /** A host's: this API node, which holds the terminal (host-shell-node.ts: ended with it, or by others if it dies). */
  holderNode?: string;
}

interface TargetRules {
  /** The target named by the path, or the refusal (404 hidden or none, 403 not runnable). */
  find(ref: string, grants: Grants, sql: postgres.Sql, principal: Principal): Promise<ShellTarget>;
  /** Last check before the row and the 101 (an agent must be online), and what a new session needs first. */
  ready(target: ShellTarget, session: string, create: boolean): Promise<void>;
}

async function upgradeShell(req: IncomingMessage, socket: Socket, head: Buffer, url: URL, accepted: () => void, deps: ShellUpgradeDeps, path: RegExp, rules: TargetRules): Promise<void> {
  const match = path.exec(url.pathname)!;
  const generation = deps.access.generation;
  const auth = upgradeAuthRequest(req);
  const principal = await auditUpgradePrincipal(deps, req, await authenticate(deps.tokens, auth, STREAM_CREDENTIAL_REQUIRED));
  // An upgrade is a GET, but a shell runs commands: the run scope, never a read one (KEP-4006).
  if (!allows(principal, 'jobs:run')) throw scopeDenied(principal, 'jobs:run');
  // A new session (no `session`) counts against VMO_SUBMIT_RATE with POST /v1/jobs, right after the
  // token and scope checks as there, refused or not: else a loop of opens leaves a PTY and a login
  // shell per open on the agent for the grace. Past it: 429 with Retry-After, audited, no row.
  if (!url.searchParams.has('session')) {
    const refusal = await deps.countSubmission?.(principal);
    if (refusal) throw refusal;
  }
  const ref = checkedPathValue(decodeSegment(match[1]!), 'id');
  const query = ShellQuery.safeParse(Object.fromEntries(['session', 'offset', 'cols', 'rows', 'command'].flatMap((k) => (url.searchParams.has(k) ? [[k, url.searchParams.get(k)]] : []))));
  if (!query.success) throw validationError(query.error, 'query');
  const q = query.data;

  const sql = deps.cp.database.sql;
  const grants = await loadGrants(sql, principal);
  const target = await rules.find(ref, grants, sql, principal);

  let sessionId = q.session;
  if (sessionId !== undefined) {
    const row = await getShellSession(sql, sessionId);
    // Ended, another machine's, or another user's (admins excepted): no such session for this caller.
    if (!row || row.ended_at !== null || row.target_id !== target.id || (!grants.admin && row.user_id !== principal.userId)) throw notFound('shell session', sessionId);
  }
  const create = sessionId === undefined;
  sessionId ??= newId('shs');
  // Each session is a PTY and a login shell on the machine for as long as it is attached or in its
  // grace: a cap per machine, before anything is spawned (a reattach takes no new slot). Audited as a refusal (429).
  const max = deps.maxSessionsPerTarget;
  if (create && max > 0 && !(await reserveShellSlot(deps.cp, target.id, sessionId, deps.graceMs, max))) {
    throw new AppError(429, 'too_many_sessions', `${target.kind} ${JSON.stringify(target.name)} already has ${max} shell sessions alive (VMO_SHELL_MAX_SESSIONS_PER_TARGET): exit or close one (a detached one lives for its grace), or reattach to one with ?session=`, { max });
  }
  try {
    await rules.ready(target, sessionId, create);
    if (create) {
      await insertShellSession(sql, { id: sessionId, kind: target.kind, agent: { id: target.id, name: target.name }, user: { id: principal.userId, name: principal.name }, command: q.command ?? null, cols: q.cols, rows: q.rows, holderNode: target.holderNode ?? null });
    }
  } catch (err) {
    if (create) await releaseShellSlot(deps.cp, target.id, sessionId).catch(() => {});
    throw err;
  }
  await auditShell(deps, req, principal, create ? 'shell.open' : 'shell.attach', sessionId, target.name, { offset: q.offset, cols: q.cols, rows: q.rows, command: q.command !== undefined });

  // `agentId` is where the session's commands go on the bus: the agent, or the host's holder (host-shells.ts).
  const spec = { agentId: target.id, session: sessionId, attach: newId('att'), create, offset: create ? 0 : q.offset, cols: q.cols, rows: q.rows, command: q.command ?? null, graceMs: deps.graceMs };
  deps.subscribers.handleUpgrade(req, socket, head, (ws) => {
    accepted();
    // LOUD: registered before any input is read: a revoked token or a withdrawn grant must stop the keystrokes.
    deps.access.watch(ws, { auth, principal, resource: { kind: 'shell', id: spec.session, ...(target.kind === 'agent' ? { agentId: target.id } : { hostId: target.id }), ...(target.workspaceId !== undefined ? { workspaceId: target.workspaceId } : {}) }, generation });
    void new ShellAttachment(ws, spec, deps).start().catch((err: Error) => {
      deps.log.warn({ err: err.message, session: spec.session }, 'shell attachment could not listen on the bus');
      ws.close(1011, 'could not reach the agent; retry');
    });
  });
}

async function auditShell(deps: ShellUpgradeDeps, req: IncomingMessage, p: Principal, action: string, sessionId: string, agentName: string, detail: Record<string, unknown>): Promise<void> {
  await storeOrLog(deps.audit, deps.log, {
    actorKind: p.kind === 'proxy' ? 'proxy' : 'user',
    actorId: p.userId,
    actorName: p.name,
    tokenId: p.tokenId,
    action,
    resourceType: 'shell_session',
    resourceId: sessionId,
    targets: [agentName],
    sourceIp: req.socket.remoteAddress ?? null,
    requestId: upgradeRequestId(req),
    result: 'allowed',
    status: 101,
    detail,
  });
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
