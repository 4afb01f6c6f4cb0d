import { describe, expect, it } from 'vitest';
import {
  agentPresenceFlushMs,
  agentPresenceTtlMs,
  agentSessionSweepMs,
  agentSilenceCutMs,
  DEFAULT_AGENT_GRACE_MS,
  DEFAULT_CANCEL_GRACE_MS,
  DEFAULT_DISPATCH_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAINTENANCE_MS,
  DEFAULT_WORKER_LOCK_MS,
  DEFAULT_WORKER_STUCK_MS,
  REDIS_PING_MS,
  REDIS_SOCKET_TIMEOUT_MS,
  DEFAULT_WORKER_PRESENCE_TTL_MS,
  dispatchLookAgainMs,
  stalledCheckMs,
  stopRepeatAfterMs,
  SUBSCRIBER_CATCH_UP_MS,
  timingProblems,
  workerLostAfterMs,
  workerPresenceRefreshMs,
} from './timings.ts';

const defaults = {
  VMO_HEARTBEAT_MS: DEFAULT_HEARTBEAT_MS,
  VMO_AGENT_GRACE_MS: DEFAULT_AGENT_GRACE_MS,
  VMO_WORKER_PRESENCE_TTL_MS: DEFAULT_WORKER_PRESENCE_TTL_MS,
  VMO_MAINTENANCE_MS: DEFAULT_MAINTENANCE_MS,
};

describe('timings: the relations hold on the defaults', () => {
  it('agent presence lives two heartbeats; the gateway cuts a socket silent three, looking every heartbeat', () => {
    expect(agentPresenceTtlMs(DEFAULT_HEARTBEAT_MS)).toBe(2 * DEFAULT_HEARTBEAT_MS);
    expect(agentSilenceCutMs(DEFAULT_HEARTBEAT_MS)).toBe(3 * DEFAULT_HEARTBEAT_MS);
    expect(agentSessionSweepMs(DEFAULT_HEARTBEAT_MS)).toBe(DEFAULT_HEARTBEAT_MS);
    expect(agentSilenceCutMs(DEFAULT_HEARTBEAT_MS)).toBeGreaterThan(agentPresenceTtlMs(DEFAULT_HEARTBEAT_MS));
  });

  it('heartbeats are written in batches a fifth of a heartbeat apart: a key is refreshed well inside its TTL', () => {
    expect(agentPresenceFlushMs(DEFAULT_HEARTBEAT_MS)).toBe(2_000);
    for (const heartbeat of [DEFAULT_HEARTBEAT_MS, 500, 200, 600_000]) {
      expect(agentPresenceFlushMs(heartbeat)).toBeGreaterThan(0);
      // The longest gap between two writes of a live agent's key: a heartbeat, plus waiting for the flush.
      expect(heartbeat + agentPresenceFlushMs(heartbeat)).toBeLessThan(agentPresenceTtlMs(heartbeat));
    }
  });

  it('the lost-agent grace is far above the heartbeat and the presence TTL; the janitor looks many times within it', () => {
    expect(DEFAULT_AGENT_GRACE_MS).toBeGreaterThanOrEqual(10 * DEFAULT_HEARTBEAT_MS);
    expect(DEFAULT_AGENT_GRACE_MS).toBeGreaterThan(agentSilenceCutMs(DEFAULT_HEARTBEAT_MS));
    expect(DEFAULT_MAINTENANCE_MS * 10).toBeLessThanOrEqual(DEFAULT_AGENT_GRACE_MS);
  });

  it('a worker refreshes its presence three times per TTL; its jobs are lost after two TTLs, the sweep looking within them', () => {
    expect(workerPresenceRefreshMs(DEFAULT_WORKER_PRESENCE_TTL_MS)).toBe(5_000);
    expect(workerPresenceRefreshMs(150)).toBe(100); // never more often than every 100 ms
    expect(workerLostAfterMs(DEFAULT_WORKER_PRESENCE_TTL_MS)).toBe(30_000);
    expect(DEFAULT_MAINTENANCE_MS).toBeLessThan(workerLostAfterMs(DEFAULT_WORKER_PRESENCE_TTL_MS));
  });

  it("BullMQ looks for stalled jobs every half lock, so a dead worker's agent job is re-attached within 1.5 locks", () => {
    expect(stalledCheckMs(DEFAULT_WORKER_LOCK_MS)).toBe(15_000);
    expect(DEFAULT_WORKER_LOCK_MS + stalledCheckMs(DEFAULT_WORKER_LOCK_MS)).toBe(45_000);
    // Re-attached well before the agent's jobs could be declared lost.
    expect(DEFAULT_WORKER_LOCK_MS + stalledCheckMs(DEFAULT_WORKER_LOCK_MS)).toBeLessThan(DEFAULT_AGENT_GRACE_MS);
  });

  it('a queued agent job looks for its agent again every 2 s at most, and never past its dispatch timeout', () => {
    expect(dispatchLookAgainMs(DEFAULT_DISPATCH_TIMEOUT_MS)).toBe(2_000);
    expect(dispatchLookAgainMs(500)).toBe(500);
    expect(DEFAULT_DISPATCH_TIMEOUT_MS).toBeGreaterThan(DEFAULT_AGENT_GRACE_MS);
  });

  it('the default cancel grace is 10 s; an unheeded stop is repeated 10 s after its grace', () => {
    expect(DEFAULT_CANCEL_GRACE_MS).toBe(10_000);
    expect(stopRepeatAfterMs(null)).toBe(20_000);
    expect(stopRepeatAfterMs(0)).toBe(10_000);
    expect(stopRepeatAfterMs(60_000)).toBe(70_000);
  });

  it('a followed job catches up from Postgres every 5 s, well inside a heartbeat-scale delay', () => {
    expect(SUBSCRIBER_CATCH_UP_MS).toBe(5_000);
    expect(SUBSCRIBER_CATCH_UP_MS).toBeLessThanOrEqual(DEFAULT_HEARTBEAT_MS);
  });

  it('the defaults break no relation', () => {
    expect(timingProblems(defaults)).toEqual([]);
  });
});

describe('timingProblems: a configuration that breaks a relation names the variable to change', () => {
  it.each([
    [{ VMO_HEARTBEAT_MS: 10_000, VMO_AGENT_GRACE_MS: 20_000 }, 'VMO_AGENT_GRACE_MS', /more than the agent presence TTL \(2 × VMO_HEARTBEAT_MS = 20000 ms\)/],
    [{ VMO_AGENT_GRACE_MS: 5_000, VMO_MAINTENANCE_MS: 5_000 }, 'VMO_MAINTENANCE_MS', /less than VMO_AGENT_GRACE_MS \(5000 ms\)/],
    [{ VMO_WORKER_PRESENCE_TTL_MS: 1_000, VMO_MAINTENANCE_MS: 2_000 }, 'VMO_MAINTENANCE_MS', /less than 2 × VMO_WORKER_PRESENCE_TTL_MS \(2000 ms\)/],
  ])('%j → %s', (settings, variable, message) => {
    const problems = timingProblems(settings);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.variable).toBe(variable);
    expect(problems[0]!.message).toMatch(message);
  });

  it('checks only the variables a process has (the API has no maintenance interval)', () => {
    expect(timingProblems({ VMO_MAINTENANCE_MS: 600_000 })).toEqual([]);
  });

  it('accepts the fast settings the fault tests use', () => {
    expect(timingProblems({ VMO_HEARTBEAT_MS: 500, VMO_AGENT_GRACE_MS: 8_000, VMO_WORKER_PRESENCE_TTL_MS: 1_500, VMO_MAINTENANCE_MS: 500 })).toEqual([]);
  });
});

describe('Redis connections and the worker watchdog (issue 19)', () => {
  it('a socket deadline above BullMQ\'s longest blocking wait (10 s, abandoned by BullMQ 1 s later); a stuck worker only after a reopened connection had its chance', () => {
    expect(REDIS_SOCKET_TIMEOUT_MS).toBeGreaterThan(10_000 + 1_000);
    expect(REDIS_PING_MS).toBeLessThan(REDIS_SOCKET_TIMEOUT_MS);
    expect(DEFAULT_WORKER_STUCK_MS).toBeGreaterThan(REDIS_SOCKET_TIMEOUT_MS + 10_000); // + a connect timeout
  });
});
