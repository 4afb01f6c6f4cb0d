import type { ProcessUsage } from './rss-sampler.ts';

/** One line of the table: a measurement, its same-run baseline, and the goal it is judged by. */
export interface BenchRow {
  scenario: string;
  measured: number;
  baseline: number;
  /** measured / baseline; null when the baseline is ~0 and a ratio would mean nothing. */
  ratio: number | null;
  unit: string;
  goal: string;
  /** Whether the goal is met; null for rows that only report. */
  pass: boolean | null;
  notes: string;
  /** RSS peak (MiB) per process of the scenario. */
  rss: Record<string, number>;
  /** CPU seconds per process during the scenario. */
  cpu: Record<string, number>;
}

export interface ScenarioContext {
  quick: boolean;
  /** Where the services write `--cpu-prof` profiles, when profiling. */
  profileDir: string | undefined;
  /** Scratch directory of this run (generated files, go-signals). */
  tmpDir: string;
  /** `--agents N`: how many simulated agents a scenario that takes a size holds (agents-100k). */
  agents?: number;
  log(message: string): void;
}

export interface Scenario {
  name: string;
  /**
   * Runs only when named in `--only`, never in the default run or `--quick`: a moonshot that
   * wants a quiet machine and minutes of its own (agents-100k).
   */
  optIn?: boolean;
  run(ctx: ScenarioContext): Promise<BenchRow[]>;
}

export type Goal = { text: string; check?: (ratio: number | null, measured: number) => boolean };

export const atLeastRatio = (min: number): Goal => ({ text: `ratio ≥ ${min}`, check: (r) => r !== null && r >= min });
export const atMostRatio = (max: number): Goal => ({ text: `ratio ≤ ${max}`, check: (r) => r !== null && r <= max });
export const atMost = (max: number, unit: string): Goal => ({ text: `≤ ${max} ${unit}`, check: (_r, m) => m <= max });
export const reportOnly: Goal = { text: 'report' };

export function makeRow(r: {
  scenario: string;
  measured: number;
  baseline: number;
  unit: string;
  goal: Goal;
  notes?: string;
  usage?: Record<string, ProcessUsage>;
}): BenchRow {
  // A baseline at or below zero (an idle process's CPU, RSS noise at small N) gives no meaningful ratio.
  const ratio = r.baseline > 1e-9 && Number.isFinite(r.baseline) ? r.measured / r.baseline : null;
  const rss: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  for (const [label, u] of Object.entries(r.usage ?? {})) {
    rss[label] = u.rssPeakMiB;
    cpu[label] = u.cpuSeconds;
  }
  return {
    scenario: r.scenario,
    measured: round3(r.measured),
    baseline: round3(r.baseline),
    ratio: ratio === null ? null : round3(ratio),
    unit: r.unit,
    goal: r.goal.text,
    pass: r.goal.check ? r.goal.check(ratio, r.measured) : null,
    notes: r.notes ?? '',
    rss,
    cpu,
  };
}

function round3(v: number): number {
  if (!Number.isFinite(v)) return v;
  const digits = Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return Number(v.toFixed(digits));
}
