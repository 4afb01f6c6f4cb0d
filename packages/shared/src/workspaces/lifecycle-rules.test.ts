import { describe, expect, it } from 'vitest';
import { bumpedDeadline, deadlineAfterStart, decideLifecycle, sessionsOverlap, type WorkspaceSeen } from './lifecycle-rules.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const NONE = { ttlMs: null, maxDeadlineMs: null, activityBumpMs: null, idleTimeoutMs: null, failureTtlMs: null, timeTilDormantMs: null, timeTilDormantAutodeleteMs: null };

const running = (over: Partial<WorkspaceSeen> = {}): WorkspaceSeen => {
  const start = { id: 'wop_1', type: 'start' as const, status: 'succeeded' as const, createdAt: T0, endedAt: T0 };
  return { status: 'running', latest: start, lastStart: start, deadlineAt: null, lastActiveAt: T0, dormantAt: null, active: false, inSession: false, settings: NONE, ...over };
};

describe('deadlineAfterStart', () => {
  it('is end + TTL, capped at end + maxDeadline; no TTL, no deadline', () => {
    expect(deadlineAfterStart(T0, { ttlMs: HOUR, maxDeadlineMs: 3 * HOUR })).toEqual({ deadlineAt: at(HOUR), maxDeadlineAt: at(3 * HOUR) });
    expect(deadlineAfterStart(T0, { ttlMs: 5 * HOUR, maxDeadlineMs: 3 * HOUR })).toEqual({ deadlineAt: at(3 * HOUR), maxDeadlineAt: at(3 * HOUR) });
    expect(deadlineAfterStart(T0, { ttlMs: null, maxDeadlineMs: null })).toEqual({ deadlineAt: null, maxDeadlineAt: null });
  });
});

describe('bumpedDeadline', () => {
  it('moves to now + bump, never past max, never backwards; no deadline stays none', () => {
    expect(bumpedDeadline(at(HOUR), at(3 * HOUR), at(30 * MIN), HOUR)).toEqual(at(90 * MIN));
    expect(bumpedDeadline(at(HOUR), at(3 * HOUR), at(150 * MIN), HOUR)).toEqual(at(3 * HOUR));
    expect(bumpedDeadline(at(HOUR), at(3 * HOUR), at(10 * MIN), 10 * MIN)).toEqual(at(HOUR));
    expect(bumpedDeadline(at(4 * HOUR), at(3 * HOUR), at(10 * MIN), HOUR)).toEqual(at(4 * HOUR)); // past max by hand: kept
    expect(bumpedDeadline(null, null, at(10 * MIN), HOUR)).toBeNull();
    expect(bumpedDeadline(at(10 * MIN), null, at(5 * MIN), null)).toEqual(at(65 * MIN)); // Coder's default bump: an hour
  });
});

describe('decideLifecycle', () => {
  it('TTL at the deadline, not before', () => {
    expect(decideLifecycle(running({ deadlineAt: at(HOUR) }), at(HOUR - 1))).toEqual({});
    expect(decideLifecycle(running({ deadlineAt: at(HOUR) }), at(HOUR))).toEqual({ operation: { type: 'stop', reason: 'autostop' } });
  });
  it('idle: from the later of the last activity and the start; never while active', () => {
    const s = { ...NONE, idleTimeoutMs: HOUR };
    expect(decideLifecycle(running({ settings: s, lastActiveAt: at(-5 * HOUR) }), at(HOUR))).toEqual({ operation: { type: 'stop', reason: 'idle' } });
    expect(decideLifecycle(running({ settings: s, lastActiveAt: at(30 * MIN) }), at(HOUR))).toEqual({});
    expect(decideLifecycle(running({ settings: s, active: true }), at(5 * HOUR))).toEqual({});
  });
  it('a session window holds off every automatic stop, dormancy included', () => {
    const w = running({ deadlineAt: at(HOUR), settings: { ...NONE, idleTimeoutMs: MIN, timeTilDormantMs: MIN }, inSession: true });
    expect(decideLifecycle(w, at(10 * HOUR))).toEqual({});
  });
  it('dormancy: a running one stopped and marked, a stopped one marked; then deleted once down', () => {
    const s = { ...NONE, timeTilDormantMs: HOUR, timeTilDormantAutodeleteMs: 10 * HOUR };
    expect(decideLifecycle(running({ settings: s }), at(HOUR))).toEqual({ markDormant: true, operation: { type: 'stop', reason: 'dormancy' } });
    expect(decideLifecycle(running({ settings: s, status: 'stopped' }), at(HOUR))).toEqual({ markDormant: true });
    expect(decideLifecycle(running({ settings: s, status: 'stopped', dormantAt: at(HOUR) }), at(11 * HOUR))).toEqual({ operation: { type: 'delete', reason: 'dormancy_delete' } });
    expect(decideLifecycle(running({ settings: s, dormantAt: at(HOUR) }), at(11 * HOUR))).toEqual({ operation: { type: 'stop', reason: 'dormancy' } });
  });
  it('failure clean-up: a failed start after failureTtl', () => {
    const failed = { id: 'wop_2', type: 'create' as const, status: 'failed' as const, createdAt: T0, endedAt: T0 };
    const w = running({ status: 'failed', latest: failed, lastStart: failed, settings: { ...NONE, failureTtlMs: HOUR } });
    expect(decideLifecycle(w, at(HOUR - 1))).toEqual({});
    expect(decideLifecycle(w, at(HOUR))).toEqual({ operation: { type: 'stop', reason: 'failure_cleanup' } });
  });
  it('nothing while an operation is under way', () => {
    for (const status of ['pending', 'starting', 'stopping', 'deleting', 'canceling', 'deleted'] as const) {
      expect(decideLifecycle(running({ status, deadlineAt: T0 }), at(HOUR))).toEqual({});
    }
  });
});

describe('sessionsOverlap', () => {
  it('compares prepare-to-end windows, touching ends do not overlap', () => {
    const a = { startAt: at(HOUR), durationMs: HOUR, prepareLeadMs: 10 * MIN };
    expect(sessionsOverlap(a, { startAt: at(2 * HOUR + 10 * MIN), durationMs: HOUR, prepareLeadMs: 10 * MIN })).toBe(false);
    expect(sessionsOverlap(a, { startAt: at(2 * HOUR + 5 * MIN), durationMs: HOUR, prepareLeadMs: 10 * MIN })).toBe(true);
    expect(sessionsOverlap(a, { startAt: at(0), durationMs: 50 * MIN, prepareLeadMs: 0 })).toBe(false); // ends as a's lead begins
    expect(sessionsOverlap(a, { startAt: at(0), durationMs: 55 * MIN, prepareLeadMs: 0 })).toBe(true);
  });
});
