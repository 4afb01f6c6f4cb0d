import type { ControlPlane } from '@vmo/shared/control-plane';
import { scheduleClock, ts, type ScheduleClock } from '@vmo/shared/schedules';
import type { LoadedWorkspace } from './load-workspaces.ts';
import { tryRequest, type LifecycleAction } from './try-request.ts';

/** A tick seen later than this (no worker ran at the time) is let go: nobody wants a machine started hours late. */
export const DEFAULT_AUTOSTART_MISSED_AFTER_MS = 15 * 60_000;

/** Parsed expressions, and the ones that no longer parse (said once per process). */
const clocks = new Map<string, ScheduleClock | Error>();
function clockOf(cp: ControlPlane, workspaceId: string, cron: string, timezone: string): ScheduleClock | null {
  const key = `${timezone}\u0000${cron}`;
  let clock = clocks.get(key);
  if (clock === undefined) {
    try {
      clock = scheduleClock(cron, timezone);
    } catch (err) {
      clock = err as Error;
      cp.log.error({ workspaceId, cron, timezone, err: clock.message }, 'workspace autostart schedule does not parse: it will not start the workspace until it is changed');
    }
    if (clocks.size > 10_000) clocks.clear();
    clocks.set(key, clock);
  }
  return clock instanceof Error ? null : clock;
}

/**
 * Autostart (a cron expression in an IANA zone, read by croner as schedules are): at each tick,
 * a STOPPED workspace that is not dormant is started (reason `autostart`). LOUD: a tick is
 * handled once across loops by a conditional UPDATE that moves `autostart_next_at` past now only
 * while it is still due (`<= now`): of two loops on the same tick, the second's UPDATE, after the
 * first's commit, matches no row, and only the loop whose UPDATE moved it asks for the start.
 * A tick whose start is refused (busy, running already) is not retried: the next tick is.
 */
export async function stepAutostart(cp: ControlPlane, w: LoadedWorkspace, now: Date, missedAfterMs: number, beforeRequest?: (workspaceId: string) => Promise<void>): Promise<LifecycleAction | null> {
  if (!w.autostart) return null;
  const clock = clockOf(cp, w.id, w.autostart.cron, w.autostart.timezone);
  if (!clock) return null;
  const sql = cp.database.sql;
  const due = w.autostart.nextAt;
  if (due === null) {
    // Never computed (a schedule written without it): the first tick after now.
    await sql`update workspaces set autostart_next_at = ${ts(clock.nextAfter(now))}::timestamptz where id = ${w.id} and autostart_next_at is null and autostart_cron is not null`;
    return null;
  }
  if (due > now) return null;
  const [claimed] = await sql`
    update workspaces set autostart_next_at = ${ts(clock.nextAfter(now))}::timestamptz
    where id = ${w.id} and autostart_next_at <= ${ts(now)}::timestamptz
    returning id`;
  if (!claimed) return null;
  if (now.getTime() - due.getTime() > missedAfterMs) {
    cp.log.info({ workspaceId: w.id, tick: due.toISOString() }, 'workspace autostart tick missed (no worker ran then): not started late');
    return null;
  }
  if (w.status !== 'stopped' || w.dormantAt !== null) return null;
  await beforeRequest?.(w.id);
  // Under the row's lock: no operation since the read (so still stopped) and not made dormant since.
  const op = await tryRequest(cp, {
    workspaceId: w.id,
    type: 'start',
    reason: 'autostart',
    templateVersion: w.templateVersion,
    expectLatest: w.latest?.id ?? null,
    guard: async (tx) => (await tx`select 1 from workspaces where id = ${w.id} and dormant_at is null`).length === 1,
  });
  return op ? { workspaceId: w.id, operationId: op.id, type: 'start', reason: 'autostart' } : null;
}
