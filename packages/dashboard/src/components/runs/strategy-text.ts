import type { Run } from '@vmo/client';
import { formatDuration } from '../../lib/format.ts';

type Strategy = Run['strategy'];

/** `2 (given "50%")`: the number the run obeys, and what was asked when it was a share. */
const withGiven = (resolved: number, given: number | string | undefined) => (typeof given === 'string' ? `${resolved} (given "${given}")` : String(resolved));

/** How many children run at once: all of them when nothing was asked. */
export function concurrencyText(s: Strategy, total: number): string {
  if (s.given.maxConcurrency === undefined) return `all ${total} at once`;
  return `${withGiven(s.resolved.maxConcurrency, s.given.maxConcurrency)} at a time`;
}

/** The failure threshold: the run stops starting children once failures exceed it. */
export function failureThresholdText(s: Strategy): string {
  const max = s.resolved.maxErrors;
  if (max === null) return 'no limit';
  if (max === 0) return `stop at the first failure${typeof s.given.maxErrors === 'string' ? ` (given "${s.given.maxErrors}")` : ''}`;
  return `stop after ${withGiven(max, s.given.maxErrors)} ${max === 1 ? 'failure' : 'failures'}`;
}

export function canaryText(s: Strategy): string {
  const canary = s.resolved.canary;
  if (!canary) return 'none';
  const count = withGiven(canary.count, s.given.canary?.count);
  return `first ${count} alone, the rest ${canary.bakeMs > 0 ? `${formatDuration(canary.bakeMs)} after they all succeed` : 'once they all succeed'}`;
}

export function offlineText(run: Pick<Run, 'offline' | 'dispatchTimeoutMs'>): string {
  switch (run.offline) {
    case 'skip':
      return 'skip the target';
    case 'fail':
      return 'fail the target (counts as a failure)';
    default:
      return `wait ${run.dispatchTimeoutMs === null ? "up to the worker's dispatch timeout" : `up to ${formatDuration(run.dispatchTimeoutMs)}`}`;
  }
}
