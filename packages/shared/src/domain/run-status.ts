/**
 * A fleet run's statuses. A run's status is derived from its children (runs/roll-up), never set
 * by hand: `queued` until a child starts, `running` until every child is final, then one of the
 * three final statuses.
 */
export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_RUN_STATUSES = ['succeeded', 'failed', 'canceled'] as const;
export type TerminalRunStatus = (typeof TERMINAL_RUN_STATUSES)[number];
export const isTerminalRun = (s: RunStatus): s is TerminalRunStatus => (TERMINAL_RUN_STATUSES as readonly string[]).includes(s);

/** What a run's child does when its agent is offline as it comes up. */
export const OFFLINE_POLICIES = ['wait', 'skip', 'fail'] as const;
export type OfflinePolicy = (typeof OFFLINE_POLICIES)[number];

/**
 * A run's rate control as stored: the operator's `n` or `"n%"` resolved against the number of
 * targets once, at submission (runs/run-input.ts says how each rounds).
 */
export interface ResolvedStrategy {
  /** At most this many children released (dispatched and not yet final) at once; ≥ 1. */
  maxConcurrency: number;
  /** The run stops starting children once failures exceed this; null: no limit. */
  maxErrors: number | null;
  /** The first `count` children (by index) run alone; the rest wait for all of them to succeed and `bakeMs`. */
  canary: { count: number; bakeMs: number } | null;
}
