import { and, asc, eq, gt, or, sql as dsql, type SQL } from 'drizzle-orm';
import { hosts } from '../db/schema/hosts.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { AppError, notFound } from '../errors/app-error.ts';
import { newId } from '../domain/ids.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { HostInput, HostPatch } from './host-input.ts';
import { hostView, type HostView } from './host-view.ts';
import { resolveHost } from './resolve-host.ts';
import { wakeTargetWaiters } from '../jobs/target-gate/wake-waiters.ts';
import { markChanged } from '../bus/change-notifier.ts';

const isUniqueViolation = (err: unknown) => pgErrorCode(err) === UNIQUE_VIOLATION;

function nameTaken(name: string, environment: string): AppError {
  return new AppError(409, 'host_exists', `a host named ${JSON.stringify(name)} already exists in environment ${JSON.stringify(environment)}`);
}

export async function createHost(cp: ControlPlane, input: Omit<HostInput, 'maxConcurrentJobs'> & { maxConcurrentJobs?: number | null }): Promise<HostView> {
  try {
    const [row] = await cp.database.db
      .insert(hosts)
      .values({ id: newId('host'), ...input })
      .returning();
    markChanged(cp, 'hosts'); // dashboards (BUS.md §10)
    return hostView(row!);
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(input.name, input.environment);
    throw err;
  }
}

/** `ref`: id, name or name@environment (as for job targets). */
export async function getHost(cp: ControlPlane, ref: string): Promise<HostView> {
  const row = await resolveHost(cp.database.db, ref);
  if (!row) throw notFound('host', ref);
  return hostView(row);
}

/** Rename, move to another environment, change labels, SSH options or maxConcurrentJobs. */
export async function updateHost(cp: ControlPlane, ref: string, patch: HostPatch): Promise<HostView> {
  const current = await resolveHost(cp.database.db, ref);
  if (!current) throw notFound('host', ref);
  if (Object.keys(patch).length === 0) return hostView(current);
  try {
    const [row] = await cp.database.db
      .update(hosts)
      .set({ ...patch, updatedAt: dsql`now()` })
      .where(eq(hosts.id, current.id))
      .returning();
    if (!row) throw notFound('host', ref); // deleted meanwhile
    markChanged(cp, 'hosts'); // dashboards (BUS.md §10)
    if (patch.maxConcurrentJobs !== undefined) {
      // A new limit applies to jobs that start after it; waiters a higher one lets through start
      // now (best effort: one not woken here finds the new limit at its own next look).
      await wakeTargetWaiters(cp, { kind: 'ssh', id: row.id }).catch((err: unknown) =>
        cp.log.warn({ err: (err as Error).message, hostId: row.id }, 'waking the jobs waiting on a host failed'),
      );
    }
    return hostView(row);
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(patch.name ?? current.name, patch.environment ?? current.environment);
    throw err;
  }
}

/**
 * Remove a host. Jobs keep their `host_id` (no foreign key, like agents); a queued job whose
 * host is gone fails with `unknown_host` when a worker takes it.
 */
export async function deleteHost(cp: ControlPlane, ref: string): Promise<void> {
  const current = await resolveHost(cp.database.db, ref);
  if (!current) throw notFound('host', ref);
  await cp.database.db.delete(hosts).where(eq(hosts.id, current.id));
  markChanged(cp, 'hosts'); // dashboards (BUS.md §10)
}

export interface ListHostsQuery {
  environment?: string;
  limit: number;
  /** `id` of the last host of the previous page. */
  cursor?: string;
  /** Only the hosts the caller may read (@vmo/shared/access hostsReadableWhere); all when absent. */
  visibleTo?: SQL;
}

/** Ordered by (name, environment): the unique index serves both the order and the keyset. */
export async function listHosts(cp: ControlPlane, q: ListHostsQuery): Promise<{ items: HostView[]; nextCursor: string | null }> {
  const { db } = cp.database;
  let after: { name: string; environment: string } | undefined;
  if (q.cursor) {
    [after] = await db.select({ name: hosts.name, environment: hosts.environment }).from(hosts).where(eq(hosts.id, q.cursor)).limit(1);
    if (!after) throw new AppError(400, 'validation_failed', 'cursor: must be a nextCursor from a previous page', { field: 'cursor' });
  }
  const rows = await db
    .select()
    .from(hosts)
    .where(
      and(
        q.environment ? eq(hosts.environment, q.environment) : undefined,
        after ? or(gt(hosts.name, after.name), and(eq(hosts.name, after.name), gt(hosts.environment, after.environment))) : undefined,
        q.visibleTo,
      ),
    )
    .orderBy(asc(hosts.name), asc(hosts.environment))
    .limit(q.limit + 1);
  const items = rows.slice(0, q.limit).map(hostView);
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.id : null };
}
