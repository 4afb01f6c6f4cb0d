import { describe, expect, it } from 'vitest';
import { canaryText, concurrencyText, failureThresholdText, offlineText } from './strategy-text.ts';

const strategy = (given: object, resolved: object) => ({ given, resolved: { maxConcurrency: 3, maxErrors: null, canary: null, ...resolved } }) as never;

describe('a run strategy in words', () => {
  it('says all at once when no concurrency was asked, and the share it came from when one was', () => {
    expect(concurrencyText(strategy({}, {}), 3)).toBe('all 3 at once');
    expect(concurrencyText(strategy({ maxConcurrency: '50%' }, { maxConcurrency: 2 }), 3)).toBe('2 (given "50%") at a time');
    expect(concurrencyText(strategy({ maxConcurrency: 1 }, { maxConcurrency: 1 }), 3)).toBe('1 at a time');
  });

  it('reads the failure threshold as the run obeys it (exceeded, not reached)', () => {
    expect(failureThresholdText(strategy({}, {}))).toBe('no limit');
    expect(failureThresholdText(strategy({ maxErrors: 0 }, { maxErrors: 0 }))).toBe('stop at the first failure');
    expect(failureThresholdText(strategy({ maxErrors: '10%' }, { maxErrors: 0 }))).toBe('stop at the first failure (given "10%")');
    expect(failureThresholdText(strategy({ maxErrors: 2 }, { maxErrors: 2 }))).toBe('stop after 2 failures');
  });

  it('names the canaries and their bake', () => {
    expect(canaryText(strategy({}, {}))).toBe('none');
    expect(canaryText(strategy({ canary: { count: 1, bakeMs: 30_000 } }, { canary: { count: 1, bakeMs: 30_000 } }))).toBe('first 1 alone, the rest 30.0 s after they all succeed');
    expect(canaryText(strategy({ canary: { count: '10%', bakeMs: 0 } }, { canary: { count: 1, bakeMs: 0 } }))).toBe('first 1 (given "10%") alone, the rest once they all succeed');
  });

  it('says what an offline agent does', () => {
    expect(offlineText({ offline: 'wait', dispatchTimeoutMs: null })).toBe("wait up to the worker's dispatch timeout");
    expect(offlineText({ offline: 'wait', dispatchTimeoutMs: 120_000 })).toBe('wait up to 2 min 0 s');
    expect(offlineText({ offline: 'skip', dispatchTimeoutMs: null })).toBe('skip the target');
  });
});
