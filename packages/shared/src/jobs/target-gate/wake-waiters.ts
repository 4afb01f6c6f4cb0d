import { Job, type Queue } from 'bullmq';
import type { Sql } from 'postgres';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import { isTerminal } from '../../domain/job-status.ts';
import { onTransition } from '../lifecycle/observers.ts';
import { gateColumns, gateTargetOf, type GateTarget } from './gate-target.ts';
import { forgetLimitedTarget, isKnownLimited } from './limited-targets.ts';
import { inLineSql, lineOrderSql, runningOnSql } from './line.ts';

type WakeDeps = Pick<ControlPlane, 'database' | 'queue' | 'log'>;

/** A target whose limit was removed has all its waiters woken, up to this many per call (the rest on their look-again). */
const WAKE_ALL_AT_MOST = 1000;

/**
 * The first waiters of a target that the gate would let through now: its released `queued` jobs
 * in line order (line.ts: priority, then first in first out), as many as it has free slots (all,
 * up to WAKE_ALL_AT_MOST, once it has no limit). `limited` is whether it still has a limit.
 */
async function nextWaiters(sql: Sql, target: GateTarget): Promise<{ limited: boolean; ids: string[] }> {
  const { column, table } = gateColumns(target);
  const [row] = await sql<{ n: number | null; ids: string[] }[]>`
    with target_limit as (select max_concurrent_jobs as n from ${sql(table)} where id = ${target.id})
    select (select n from target_limit) as n, coalesce((
      select array_agg(id order by ${lineOrderSql(sql, 'first_waiters')}) from (
        select w.id, w.priority, w.released_at from jobs w
        where ${inLineSql(sql, 'w', column, target.id)}
        order by ${lineOrderSql(sql, 'w')}
        limit (select case when (select n from target_limit) is null then ${WAKE_ALL_AT_MOST}
                      else greatest((select n from target_limit) - (select count(*) from jobs r where ${runningOnSql(sql, 'r', column, target.id)}), 0) end)
      ) first_waiters
    ), '{}') as ids`;
  return { limited: row?.n !== null && row?.n !== undefined, ids: row?.ids ?? [] };
}

/**
 * Move the BullMQ entries of the jobs that may start now on this target out of the delayed set,
 * so a worker takes them at once instead of at their look-again. Best effort, never throws for a
 * job: an entry that is not delayed (being processed, already waiting) or gone is left alone, the
 * gate decides anyway, and a refused job's own re-check or its look-again covers a wake-up that
 * came too early (services/worker process-job.ts). Returns how many were promoted.
 */
export async function wakeTargetWaiters(cp: WakeDeps, target: GateTarget): Promise<number> {
  const { limited, ids } = await nextWaiters(cp.database.sql, target);
  if (!limited) forgetLimitedTarget(target.id);
  let promoted = 0;
  // In line order: each promoted entry joins the waiting list behind the ones before it, so the first in line is taken first.
  for (const id of ids) if (await promoteDelayed(cp.queue, id)) promoted++;
  return promoted;
}

/** Promote one delayed BullMQ entry; false when it is not delayed (or not there). */
export async function promoteDelayed(queue: Queue, id: string): Promise<boolean> {
  try {
    const entry = await Job.fromId(queue, id);
    if (!entry) return false;
    await entry.promote();
    return true;
  } catch {
    return false; // not in the delayed set (BullMQ's -3): being processed or already waiting
  }
}

let registered: { wake: (target: GateTarget) => void; stop: () => void } | undefined;

/**
 * The worker's wake-ups: when a job on a target known to be limited ends (from `running`, which
 * frees a slot, or from `queued`, which moves the line up), wake that target's next waiters.
 * Registers a lifecycle observer for the ends this process writes; the ends written elsewhere
 * that this process learns of are told through `jobEndedOnTarget`. Idempotent per process;
 * returns the function that stops it.
 *
 * Not awaited in the transition's path: the wake runs in the background, one at a time per target
 * (a burst of ends on one target queues a single re-run, not one query per end).
 */
export function registerTargetGateWakeUp(cp: WakeDeps): () => void {
  if (registered) return registered.stop;
  const inFlight = new Map<string, { again: boolean }>();
  const wake = (target: GateTarget) => {
    const running = inFlight.get(target.id);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: false };
    inFlight.set(target.id, state);
    void (async () => {
      try {
        do {
          state.again = false;
          await wakeTargetWaiters(cp, target);
        } while (state.again);
      } catch (err) {
        // Their look-again finds them: a lost wake-up costs latency, never a job.
        cp.log.warn({ err: (err as Error).message, targetId: target.id }, 'waking the jobs waiting on a target failed');
      } finally {
        inFlight.delete(target.id);
      }
    })();
  };
  const off = onTransition(({ job, from, to }) => {
    // A retry (issue 14) leaves the slot too: the job waits, held, for its next attempt.
    if (isTerminal(to) || (from === 'running' && to === 'queued')) jobEndedOnTarget(job);
  });
  const me = {
    wake,
    stop: () => {
      off();
      if (registered === me) registered = undefined;
    },
  };
  registered = me;
  return me.stop;
}

/**
 * A job has left its target's line or slot, whoever wrote its end: an agent job's end is written
 * by the API node holding the agent's socket, and the worker that started it learns of it from
 * its executor. Wakes the target's next waiters if the target is known limited here (no query
 * otherwise) and the wake-ups are registered in this process.
 */
export function jobEndedOnTarget(job: { agentId: string | null; hostId: string | null }): void {
  const target = gateTargetOf(job);
  if (registered && target && isKnownLimited(target.id)) registered.wake(target);
}
