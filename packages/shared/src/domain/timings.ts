/**
 * Every interval vmo waits on, and how they relate. The configurable ones (VMO_*) have their
 * default here; the ones derived from them are computed here, and only here, from the base value;
 * `timingProblems` names a configuration whose relations would break, and the configuration
 * schemas refuse it at start with one line naming the variable (config/timing-relations.ts).
 * timings.test.ts checks each relation below on the defaults.
 *
 * Agents (PROTOCOL.md §5)
 *   heartbeat (VMO_HEARTBEAT_MS, sent in `welcome`)
 *     < agent presence TTL = 2 × heartbeat: one late heartbeat does not make an agent offline.
 *       The gateway writes heartbeats in batches every presence flush = heartbeat / 5, so a key is
 *       refreshed at most heartbeat + flush after its last write: still inside the TTL
 *     < silent-session cut = 3 × heartbeat: the gateway terminates a socket silent this long
 *       (it looks every heartbeat)
 *     < lost-agent grace (VMO_AGENT_GRACE_MS): a running job ends `lost` only after its agent has
 *       been away this long. Refused unless it is above the presence TTL; by default 12 × heartbeat,
 *       so an agent restart or a network blip never loses a job.
 *   maintenance interval (VMO_MAINTENANCE_MS) < grace: the janitor that ends those jobs looks at
 *     least once within the grace (refused otherwise).
 *
 * Workers
 *   worker presence TTL (VMO_WORKER_PRESENCE_TTL_MS), refreshed every TTL / 3 (at least 100 ms).
 *   A local or ssh job whose worker's key has been missing for 2 × TTL ends `lost`, so a Redis
 *   restart (every key gone, a refresh away from coming back) never loses a live worker's job.
 *   maintenance interval < 2 × TTL: the lost-worker sweep looks within that window (refused
 *   otherwise). A worker killed -9: its jobs end within about 3 × TTL + maintenance interval.
 *   BullMQ lock (VMO_WORKER_LOCK_MS), stalled check every lock / 2: a worker that dies holding an
 *   agent job loses it after the lock and another worker re-attaches it (not re-runs it: the
 *   `queued → running` transition is the fence) within about 1.5 × lock.
 *   dispatch timeout (VMO_DISPATCH_TIMEOUT_MS): a queued agent job waits this long for its agent to
 *   come online (looking again every min(2 s, timeout)) before it fails `agent_offline`.
 *
 * Redis connections (issue 19: a black-holed path, no RST, would otherwise wait for TCP's own
 * timeouts: hours)
 *   REDIS_SOCKET_TIMEOUT_MS: a connection with a command waiting and no byte back for this long is
 *     destroyed and reopened (ioredis `socketTimeout`; the waiting commands are sent again on the
 *     new one). Above BullMQ's longest blocking wait (BZPOPMIN ≤ 10 s, which BullMQ itself abandons
 *     1 s later), so a worker's idle blocking connection is never cut by it.
 *   REDIS_PING_MS: a connection that can sit with nothing waiting (a subscriber) sends PING this
 *     often, so the same deadline reaches it: a dead subscriber is reopened within
 *     REDIS_PING_MS + REDIS_SOCKET_TIMEOUT_MS.
 *   REDIS_KEEPALIVE_MS: TCP keepalive after this much idle time (keeps middleboxes' state, and
 *     finds a peer that rebooted).
 *   worker stuck (VMO_WORKER_STUCK_MS): a worker whose event loop stood still this long, or that
 *     took no job this long while jobs waited and it had free slots, exits 70 for its supervisor
 *     to restart it (services/worker/src/watchdog). Above REDIS_SOCKET_TIMEOUT_MS + a reconnect,
 *     so a connection the deadline above reopens never counts as stuck.
 *
 * Jobs
 *   cancel grace (DEFAULT_CANCEL_GRACE_MS unless the cancel says `graceMs`): SIGTERM, then SIGKILL
 *   after the grace. A stop an agent did not act on within grace + STOP_REPEAT_SLACK_MS is sent again.
 *
 * Subscribers
 *   SUBSCRIBER_CATCH_UP_MS: a followed job's stream reads Postgres this often even when no
 *   pub/sub message arrives, so a lost message delays output or the end by at most this.
 *
 * SSH
 *   VMO_SSH_IDLE_MS: a connection with no session open is closed after this long.
 *
 * Schedules
 *   every worker looks for due ticks every SCHEDULER_LOOP_MS (1 s); a tick first seen more than
 *   scheduleMissedAfterMs (5 loops) after its time was missed (no worker was looking): `catchUp`
 *   decides what happens to it. Five loops, not two: on a loaded machine every worker's loop can
 *   be a few seconds late at once, and a late tick must still fire, not count as missed.
 */

// ── Configurable (the default of each variable) ─────────────────────────────────────────────────
export const DEFAULT_HEARTBEAT_MS = 10_000; // VMO_HEARTBEAT_MS
export const DEFAULT_AGENT_GRACE_MS = 120_000; // VMO_AGENT_GRACE_MS
export const DEFAULT_WORKER_PRESENCE_TTL_MS = 15_000; // VMO_WORKER_PRESENCE_TTL_MS
export const DEFAULT_MAINTENANCE_MS = 5_000; // VMO_MAINTENANCE_MS
export const DEFAULT_WORKER_LOCK_MS = 30_000; // VMO_WORKER_LOCK_MS
export const DEFAULT_DISPATCH_TIMEOUT_MS = 600_000; // VMO_DISPATCH_TIMEOUT_MS
export const DEFAULT_SSH_IDLE_MS = 60_000; // VMO_SSH_IDLE_MS
export const DEFAULT_WORKER_STUCK_MS = 60_000; // VMO_WORKER_STUCK_MS

// ── Fixed ────────────────────────────────────────────────────────────────────────────────────────
/** Between SIGTERM and SIGKILL when a cancel (or a timeout) names no grace of its own. */
export const DEFAULT_CANCEL_GRACE_MS = 10_000;
/** Past its grace, how much longer an agent may take to act on a stop before it is sent again. */
export const STOP_REPEAT_SLACK_MS = 10_000;
/** How often a job stream looks at Postgres when nothing arrives (lost pub/sub messages). */
export const SUBSCRIBER_CATCH_UP_MS = 5_000;
/** A Redis connection waiting this long for any byte of an answer is reopened (see above). */
export const REDIS_SOCKET_TIMEOUT_MS = 15_000;
/** A subscriber connection pings this often, so REDIS_SOCKET_TIMEOUT_MS reaches it too. */
export const REDIS_PING_MS = 5_000;
/** TCP keepalive's first probe after this much idle time. */
export const REDIS_KEEPALIVE_MS = 10_000;
/** How often each worker's scheduler loop looks for due schedule ticks. */
export const SCHEDULER_LOOP_MS = 1_000;

// ── Derived ─────────────────────────────────────────────────────────────────────────────────────
/** An agent's presence key lives two heartbeats: one late heartbeat does not make it offline. */
export const agentPresenceTtlMs = (heartbeatMs: number): number => 2 * heartbeatMs;
/**
 * The gateway writes the presence of the agents that beat in one pipeline this often (presence-writer.ts):
 * a fifth of the heartbeat (VMO_HEARTBEAT_MS is at least 200 ms), so heartbeat + flush stays well inside the TTL.
 */
export const agentPresenceFlushMs = (heartbeatMs: number): number => Math.floor(heartbeatMs / 5);
/** The gateway terminates an agent socket silent for three heartbeats. */
export const agentSilenceCutMs = (heartbeatMs: number): number => 3 * heartbeatMs;
/** The gateway looks at its sessions (last_seen_at, silence, revocations) once per heartbeat. */
export const agentSessionSweepMs = (heartbeatMs: number): number => heartbeatMs;
/** A worker refreshes its presence key every third of the TTL (at least every 100 ms). */
export const workerPresenceRefreshMs = (ttlMs: number): number => Math.max(100, Math.floor(ttlMs / 3));
/** A worker's key missing this long (watched continuously) makes its running jobs `lost`. */
export const workerLostAfterMs = (ttlMs: number): number => 2 * ttlMs;
/** BullMQ looks for stalled jobs (a dead worker's lock expired) every half lock. */
export const stalledCheckMs = (lockMs: number): number => Math.floor(lockMs / 2);
/** A queued agent job whose agent is offline is looked at again after this long (at most 2 s). */
export const dispatchLookAgainMs = (dispatchTimeoutMs: number): number => Math.min(2_000, dispatchTimeoutMs);
/** A schedule tick first seen this long after its time was missed (no scheduler was running): its schedule's `catchUp` decides. */
export const scheduleMissedAfterMs = (loopMs: number): number => 5 * loopMs;
/** A stop an agent has not acted on after this long is sent again (janitor). */
export const stopRepeatAfterMs = (graceMs: number | null | undefined): number => (graceMs ?? DEFAULT_CANCEL_GRACE_MS) + STOP_REPEAT_SLACK_MS;

/** The configuration variables whose relations are checked; each process passes those it has. */
export interface TimingSettings {
  VMO_HEARTBEAT_MS?: number;
  VMO_AGENT_GRACE_MS?: number;
  VMO_WORKER_PRESENCE_TTL_MS?: number;
  VMO_MAINTENANCE_MS?: number;
}

export interface TimingProblem {
  variable: keyof TimingSettings;
  message: string;
}

/** The relations above that `settings` breaks, each naming the variable to change. */
export function timingProblems(settings: TimingSettings): TimingProblem[] {
  const problems: TimingProblem[] = [];
  const { VMO_HEARTBEAT_MS: heartbeat, VMO_AGENT_GRACE_MS: grace, VMO_WORKER_PRESENCE_TTL_MS: workerTtl, VMO_MAINTENANCE_MS: maintenance } = settings;
  if (heartbeat !== undefined && grace !== undefined && grace <= agentPresenceTtlMs(heartbeat)) {
    problems.push({
      variable: 'VMO_AGENT_GRACE_MS',
      message: `must be more than the agent presence TTL (2 × VMO_HEARTBEAT_MS = ${agentPresenceTtlMs(heartbeat)} ms): an agent only late with a heartbeat would lose its jobs`,
    });
  }
  if (maintenance !== undefined && grace !== undefined && maintenance >= grace) {
    problems.push({
      variable: 'VMO_MAINTENANCE_MS',
      message: `must be less than VMO_AGENT_GRACE_MS (${grace} ms): the janitor that ends a lost agent's jobs runs this often`,
    });
  }
  if (maintenance !== undefined && workerTtl !== undefined && maintenance >= workerLostAfterMs(workerTtl)) {
    problems.push({
      variable: 'VMO_MAINTENANCE_MS',
      message: `must be less than 2 × VMO_WORKER_PRESENCE_TTL_MS (${workerLostAfterMs(workerTtl)} ms): the lost-worker sweep runs this often`,
    });
  }
  return problems;
}
