import type { ControlPlane } from '../control-plane/index.ts';
import { SHELL_ATTACH_TIMEOUT_MS } from '../protocol/index.ts';

/**
 * The shell sessions alive on one agent or host, for VMO_SHELL_MAX_SESSIONS_PER_TARGET (SHELL.md
 * §S1): a sorted set per target, each session scored with the latest time it can still be alive.
 * Not `shell_sessions.ended_at is null`: a row whose holder died unannounced stays open until it is
 * noticed (an agent restarted and nobody reattached: until it is back; an API node holding host
 * shells killed: until another node's sweep, SHELL.md §S8), and would hold a slot all that time. A session nobody touches can live at most until its holder notices
 * the silent attachment (SHELL_ATTACH_TIMEOUT_MS) plus the grace, so that is how long a touch counts.
 */
export function shellAliveUntil(graceMs: number, now = Date.now()): number {
  return now + SHELL_ATTACH_TIMEOUT_MS + graceMs + 5_000;
}

/**
 * A new session takes a slot, or not (false: `max` are alive). Atomic per target (one MULTI on one
 * key): of two opens racing for the last slot, exactly one gets it.
 */
export async function reserveShellSlot(cp: ControlPlane, targetId: string, session: string, graceMs: number, max: number): Promise<boolean> {
  const key = cp.keys.liveShells(targetId);
  const now = Date.now();
  const until = shellAliveUntil(graceMs, now);
  const res = await cp.redis.multi().zremrangebyscore(key, '-inf', now).zadd(key, until, session).zcard(key).pexpire(key, until - now).exec();
  const count = Number(res?.[2]?.[1] ?? 0);
  if (count <= max) return true;
  await cp.redis.zrem(key, session);
  return false;
}

/** The session is still alive (attached, or its grace starting now): it keeps its slot. */
export async function touchShellSlot(cp: ControlPlane, targetId: string, session: string, graceMs: number): Promise<void> {
  const key = cp.keys.liveShells(targetId);
  const until = shellAliveUntil(graceMs);
  // XX: only a session that holds a slot; an ended one (released) is not brought back.
  await cp.redis.multi().zadd(key, 'XX', until, session).pexpire(key, until - Date.now()).exec();
}

/** The session ended (or never opened): its slot is free. */
export async function releaseShellSlot(cp: ControlPlane, targetId: string, session: string): Promise<void> {
  await cp.redis.zrem(cp.keys.liveShells(targetId), session);
}
