import { describe, expect, it } from 'vitest';
import { isRetried, MAX_RETRY_DELAY_MS, resolveRetryPolicy, retryDelayCapMs, retryDelayMs, retryDelayRange, type AttemptOutcome, type RetryBackoff } from './retry-policy.ts';

const exp = (delayMs: number, extra: Partial<RetryBackoff> = {}): RetryBackoff => ({ type: 'exponential', delayMs, maxDelayMs: null, jitter: 0, ...extra });
const outcome = (o: Partial<AttemptOutcome>): AttemptOutcome => ({ status: 'failed', exitCode: 1, error: null, cancelRequested: false, ...o });

describe('resolveRetryPolicy', () => {
  it('fills the defaults: exponential from 1 s, no jitter, failures retried', () => {
    expect(resolveRetryPolicy({ max: 3 })).toEqual({
      max: 3,
      backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: null, jitter: 0 },
      on: { exitCodes: 'nonzero', lost: false, agentOffline: false, timedOut: false },
    });
  });
  it('an `on` that is given says everything: what it leaves out is not retried', () => {
    expect(resolveRetryPolicy({ max: 1, on: { lost: true } }).on).toEqual({ exitCodes: null, lost: true, agentOffline: false, timedOut: false });
    expect(resolveRetryPolicy({ max: 1, on: { exitCodes: [3, 1, 3] } }).on.exitCodes).toEqual([1, 3]);
  });
});

describe('the backoff', () => {
  it('exponential doubles from delayMs, capped at maxDelayMs', () => {
    const b = exp(100, { maxDelayMs: 500 });
    expect([1, 2, 3, 4, 5].map((n) => retryDelayCapMs(b, n))).toEqual([100, 200, 400, 500, 500]);
  });
  it('fixed waits delayMs every time', () => {
    expect([1, 2, 9].map((n) => retryDelayCapMs({ type: 'fixed', delayMs: 250, maxDelayMs: null, jitter: 0 }, n))).toEqual([250, 250, 250]);
  });
  it('without maxDelayMs it stops at a day, also for the 100th retry', () => {
    expect(retryDelayCapMs(exp(1000), 100)).toBe(MAX_RETRY_DELAY_MS);
    expect(retryDelayMs(exp(1000), 100, () => 0.5)).toBe(MAX_RETRY_DELAY_MS);
  });
  it('jitter takes up to its share off the delay, never adds to it', () => {
    const b = exp(1000, { jitter: 0.25 });
    expect(retryDelayRange(b, 2)).toEqual({ minMs: 1500, maxMs: 2000 });
    expect(retryDelayMs(b, 2, () => 0)).toBe(2000);
    expect(retryDelayMs(b, 2, () => 0.999999)).toBe(1500);
    expect(retryDelayMs(b, 2, () => 0.5)).toBe(1750);
    for (let i = 0; i < 1000; i++) {
      const d = retryDelayMs(b, 3);
      expect(d).toBeGreaterThanOrEqual(3000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
  it('full jitter spreads over [0, d]; none is exactly d', () => {
    expect(retryDelayRange(exp(800, { jitter: 1 }), 1)).toEqual({ minMs: 0, maxMs: 800 });
    expect(retryDelayMs(exp(800), 1, () => 0.9)).toBe(800);
  });
  it('a zero delay stays zero', () => {
    expect(retryDelayMs(exp(0, { jitter: 1 }), 5)).toBe(0);
  });
});

describe('isRetried', () => {
  const p = resolveRetryPolicy({ max: 2 });
  it('retries a failure until max retries are used: attempts 1 and 2, not 3', () => {
    expect([1, 2, 3].map((a) => isRetried(p, a, outcome({})))).toEqual([true, true, false]);
  });
  it('never a success, a cancel, a skip', () => {
    expect(isRetried(p, 1, outcome({ status: 'succeeded', exitCode: 0 }))).toBe(false);
    expect(isRetried(p, 1, outcome({ status: 'canceled', exitCode: null }))).toBe(false);
    expect(isRetried(p, 1, outcome({ status: 'skipped', exitCode: null }))).toBe(false);
  });
  it('never a job whose cancel is recorded, even when the attempt failed on its own first', () => {
    expect(isRetried(resolveRetryPolicy({ max: 2, on: { exitCodes: 'nonzero', lost: true, timedOut: true } }), 1, outcome({ cancelRequested: true }))).toBe(false);
  });
  it('matches exit codes against a list', () => {
    const listed = resolveRetryPolicy({ max: 5, on: { exitCodes: [75, 111] } });
    expect(isRetried(listed, 1, outcome({ exitCode: 75 }))).toBe(true);
    expect(isRetried(listed, 1, outcome({ exitCode: 1 }))).toBe(false);
    // A failure without an exit code is not in any list.
    expect(isRetried(listed, 1, outcome({ exitCode: null, error: { code: 'ssh_connect_failed', mayPass: true } }))).toBe(false);
  });
  it('"nonzero" retries errors that may pass, not the ones that cannot', () => {
    expect(isRetried(p, 1, outcome({ exitCode: null, error: { code: 'ssh_connect_failed', mayPass: true } }))).toBe(true);
    expect(isRetried(p, 1, outcome({ exitCode: null, error: { code: 'unknown_host', mayPass: false } }))).toBe(false);
  });
  it('lost, timed out and an offline agent only when `on` says so', () => {
    const lost = outcome({ status: 'lost', exitCode: null, error: { code: 'agent_lost', mayPass: true } });
    const timedOut = outcome({ status: 'timed_out', exitCode: null, error: null });
    const offline = outcome({ status: 'failed', exitCode: null, error: { code: 'agent_offline', mayPass: true } });
    expect([lost, timedOut, offline].map((o) => isRetried(p, 1, o))).toEqual([false, false, false]);
    const all = resolveRetryPolicy({ max: 1, on: { lost: true, timedOut: true, agentOffline: true } });
    expect([lost, timedOut, offline].map((o) => isRetried(all, 1, o))).toEqual([true, true, true]);
    expect(isRetried(all, 1, outcome({ exitCode: 1 }))).toBe(false);
  });
});
