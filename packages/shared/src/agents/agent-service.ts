import { and, desc, eq, isNull, lt, or, sql as dsql, type SQL } from 'drizzle-orm';
import { AppError, notFound } from '../errors/app-error.ts';
import { agents } from '../db/schema/agents.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { newId } from '../domain/ids.ts';
import { WORKSPACE_ID_LABEL, WORKSPACE_LABEL, WORKSPACE_OWNER_LABEL } from '../domain/workspace-agent-labels.ts';
import { generateToken, hashToken } from '../tokens.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { endRevokedAgentJobs } from '../jobs/end-revoked-agent-jobs.ts';
import { publishAgentCommand } from '../bus/publish.ts';
import { markChanged } from '../bus/change-notifier.ts';
import { runningJobCounts } from '../jobs/queries/agent-jobs.ts';
import { agentsPresence } from '../presence/agent-presence.ts';
import { forgetAgentPresence } from '../presence/presence-writer.ts';
import { wakeTargetWaiters } from '../jobs/target-gate/wake-waiters.ts';
import type { AgentInput, AgentPatch } from './agent-input.ts';

type AgentRow = typeof agents.$inferSelect;

export function agentView(row: AgentRow, online: boolean, runningJobs: number) {
  return {
    id: row.id,
    name: row.name,
    status: online ? ('online' as const) : ('offline' as const),
    // An operator's label set at registration wins over what the VM last reported about itself.
    labels: { ...row.reportedLabels, ...row.labels },
    hostname: row.hostname,
    version: row.version,
    os: row.os,
    arch: row.arch,
    runningJobs,
    maxConcurrentJobs: row.maxConcurrentJobs,
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}
export type AgentView = ReturnType<typeof agentView>;

/** Register an agent; the token is returned once and stored only as its hash. */
export async function registerAgent(cp: ControlPlane, input: Omit<AgentInput, 'maxConcurrentJobs'> & { maxConcurrentJobs?: number | null }): Promise<AgentView & { token: string }> {
  const token = generateToken('agent');
  try {
    const [row] = await cp.database.db
      .insert(agents)
      .values({ id: newId('agt'), name: input.name, labels: input.labels, maxConcurrentJobs: input.maxConcurrentJobs ?? null, tokenHash: hashToken(token) })
      .returning();
    markChanged(cp, 'agents'); // dashboards (BUS.md §10)
    return { ...agentView(row!, false, 0), token };
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw new AppError(409, 'name_taken', `an agent named ${JSON.stringify(input.name)} already exists`);
    throw err;
  }
}

async function decorate(cp: ControlPlane, rows: AgentRow[]): Promise<AgentView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  // Presence `unknown` (Redis unreachable) shows `offline`: the v1 contract has only the two (presence/agent-presence.ts).
  const [presence, running] = await Promise.all([agentsPresence(cp, ids), runningJobCounts(cp.database.sql, ids)]);
  return rows.map((r, i) => agentView(r, presence[i] === 'online', running.get(r.id) ?? 0));
}

export async function getAgent(cp: ControlPlane, ref: string): Promise<AgentView> {
  const [row] = await cp.database.db
    .select()
    .from(agents)
    .where(and(isNull(agents.revokedAt), or(eq(agents.id, ref), eq(agents.name, ref))))
    .limit(1);
  if (!row) throw notFound('agent', ref);
  return (await decorate(cp, [row]))[0]!;
}

/** `visibleTo`: only the agents the caller may read (@vmo/shared/access agentsReadableWhere); all when absent. */
export async function listAgents(cp: ControlPlane, q: { limit: number; cursor?: string; visibleTo?: SQL }): Promise<{ items: AgentView[]; nextCursor: string | null }> {
  const rows = await cp.database.db
    .select()
    .from(agents)
    .where(and(isNull(agents.revokedAt), q.cursor ? lt(agents.id, q.cursor) : undefined, q.visibleTo))
    .orderBy(desc(agents.id))
    .limit(q.limit + 1);
  const items = await decorate(cp, rows.slice(0, q.limit));
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.id : null };
}

/**
 * Change an agent's registered labels or its `maxConcurrentJobs` (null: no limit). A revoked
 * agent is not found. A new limit applies to the jobs that start after it: jobs already running
 * go on, and when it rises (or goes) the jobs waiting for a slot are woken at once rather than at
 * their next look.
 */
export async function updateAgent(cp: ControlPlane, ref: string, patch: AgentPatch): Promise<AgentView> {
  const set: { labels?: SQL; maxConcurrentJobs?: AgentRow['maxConcurrentJobs'] } = {};
  // LOUD: a workspace's agent keeps its reserved labels (domain/workspace-agent-labels.ts: who may
  // run there) whatever labels replace the rest; the input schema refused them in the patch.
  if (patch.labels !== undefined) {
    set.labels = dsql`${JSON.stringify(patch.labels)}::jsonb || jsonb_strip_nulls(jsonb_build_object(${WORKSPACE_LABEL}::text, ${agents.labels}->${WORKSPACE_LABEL}::text, ${WORKSPACE_ID_LABEL}::text, ${agents.labels}->${WORKSPACE_ID_LABEL}::text, ${WORKSPACE_OWNER_LABEL}::text, ${agents.labels}->${WORKSPACE_OWNER_LABEL}::text))`;
  }
  if (patch.maxConcurrentJobs !== undefined) set.maxConcurrentJobs = patch.maxConcurrentJobs;
  if (Object.keys(set).length === 0) return getAgent(cp, ref);
  const [row] = await cp.database.db
    .update(agents)
    .set(set)
    .where(and(isNull(agents.revokedAt), or(eq(agents.id, ref), eq(agents.name, ref))))
    .returning();
  if (!row) throw notFound('agent', ref);
  markChanged(cp, 'agents'); // dashboards (BUS.md §10)
  if (patch.maxConcurrentJobs !== undefined) {
    // Best effort: a waiter not woken here finds the new limit at its own next look.
    await wakeTargetWaiters(cp, { kind: 'agent', id: row.id }).catch((err: unknown) =>
      cp.log.warn({ err: (err as Error).message, agentId: row.id }, 'waking the jobs waiting on an agent failed'),
    );
  }
  return (await decorate(cp, [row]))[0]!;
}

/**
 * Revoke: the token is refused from now on (the row stays for the jobs that refer to it), the
 * agent's jobs end at once (`failed`, `agent_revoked`; see endRevokedAgentJobs), and the node
 * holding the agent's socket closes it (4401) when it gets the message; the agent then kills
 * every command it still runs.
 */
export async function revokeAgent(cp: ControlPlane, ref: string): Promise<void> {
  const [row] = await cp.database.db
    .update(agents)
    .set({ revokedAt: dsql`now()` })
    .where(and(isNull(agents.revokedAt), or(eq(agents.id, ref), eq(agents.name, ref))))
    .returning({ id: agents.id });
  if (!row) throw notFound('agent', ref);
  markChanged(cp, 'agents'); // dashboards (BUS.md §10): it has left every listing
  // Presence first: a worker's dispatch then sees the agent offline and starts none of its jobs
  // while they are being ended (the ones that slipped through are ended from `running` below).
  await forgetAgentPresence(cp, row.id);
  try {
    await endRevokedAgentJobs(cp, row.id);
  } finally {
    // Cut the agent off even if ending its jobs failed (Postgres blip): they then end `lost`.
    await publishAgentCommand(cp, row.id, { type: 'revoke' });
  }
}

/** The agent a token belongs to, if it is live. */
export async function agentForToken(cp: ControlPlane, token: string): Promise<AgentRow | undefined> {
  const [row] = await cp.database.db
    .select()
    .from(agents)
    .where(and(eq(agents.tokenHash, hashToken(token)), isNull(agents.revokedAt)))
    .limit(1);
  return row;
}

/**
 * The gateway's upgrade check (PROTOCOL.md §1): only what it keeps of a live agent, read by one
 * plain statement (no query builder, no row mapping: 10,000 agents connecting at once pay it each).
 */
export async function agentCredentialOf(cp: Pick<ControlPlane, 'database'>, token: string): Promise<{ id: string; tokenHash: string } | undefined> {
  const sql = cp.database.sql;
  const [row] = await sql<{ id: string; token_hash: string }[]>`
    select id, token_hash from agents where token_hash = ${hashToken(token)} and revoked_at is null limit 1`;
  return row && { id: row.id, tokenHash: row.token_hash };
}

/**
 * The built-in agent of the single-machine `npm start`: create it by name if missing, or give it
 * a fresh token (tokens are stored hashed, so the old one cannot be read back). Used only by a
 * process that then runs that agent itself.
 */
export async function issueBuiltInAgentToken(cp: Pick<ControlPlane, 'database'>, name: string): Promise<{ id: string; token: string }> {
  const token = generateToken('agent');
  const [row] = await cp.database.sql<{ id: string }[]>`
    insert into agents (id, name, token_hash, labels) values (${newId('agt')}, ${name}, ${hashToken(token)}, ${JSON.stringify({ builtin: "true" })}::jsonb)
    on conflict (name) where revoked_at is null do update set token_hash = excluded.token_hash
    returning id`;
  return { id: row!.id, token };
}
