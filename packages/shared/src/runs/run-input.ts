import { z } from 'zod';
import { OFFLINE_POLICIES, type ResolvedStrategy } from '../domain/run-status.ts';
import { TARGET_KINDS } from '../domain/target-kind.ts';
import { storableText } from '../errors/storable-text.ts';
import { JobInput } from '../jobs/job-input.ts';

/** VMO_MAX_RUN_TARGETS' default: more targets than this is 422 `too_many_targets`. */
export const DEFAULT_MAX_RUN_TARGETS = 10_000;
/** The most VMO_MAX_RUN_TARGETS may be set to: the schema's own bound on a target list. */
export const MAX_RUN_TARGETS_LIMIT = 100_000;
/** Longest canary bake: a day. */
export const MAX_BAKE_MS = 24 * 3_600_000;
export const MAX_DISPATCH_TIMEOUT_MS = 7 * 24 * 3_600_000;

/** `n` (a count) or `"n%"` (a share of the targets, 0–100). */
const countOrPercent = (min: 0 | 1) =>
  z.union(
    [
      z.number().int('must be a whole number').min(min, `must be at least ${min}`),
      z
        .string()
        .regex(/^\d{1,3}%$/, 'must be a whole number or a percentage like "10%"')
        .refine((p) => parseInt(p, 10) <= 100, 'must be at most 100%')
        .refine((p) => parseInt(p, 10) >= min, `must be at least ${min}%`),
    ],
    { error: `must be a whole number (at least ${min}) or a percentage like "10%"` },
  );
export type CountOrPercent = number | `${number}%`;

/**
 * A list of agents or hosts. The schema knows nothing of this server's VMO_MAX_RUN_TARGETS (the
 * client loads it too), so it bounds a list only by the most that setting may be; a list within
 * that bound but over the server's setting is submitRun's 422 `too_many_targets` (its maxTargets).
 */
const targetRefs = (what: string) =>
  z
    .array(storableText(z.string().min(1, `must name ${what}`).max(255)))
    .min(1, 'must not be empty (leave it out instead)')
    .max(MAX_RUN_TARGETS_LIMIT, `at most ${MAX_RUN_TARGETS_LIMIT} entries (the most VMO_MAX_RUN_TARGETS allows; the server's own limit, ${DEFAULT_MAX_RUN_TARGETS} by default, may refuse fewer: 422 too_many_targets)`);

export const RunTargetsInput = z
  .object({
    /** A label selector (Kubernetes syntax) over agents and hosts; parsed by the route. */
    selector: storableText(z.string().max(4096)).optional(),
    kinds: z.array(z.enum(TARGET_KINDS)).min(1).optional(),
    agents: targetRefs('an agent').optional(),
    hosts: targetRefs('a host').optional(),
  })
  .strict()
  .refine((t) => t.selector !== undefined || t.agents !== undefined || t.hosts !== undefined, {
    error: 'must give a selector, a list of agents or a list of hosts',
  });
export type RunTargetsInput = z.infer<typeof RunTargetsInput>;

export const StrategyInput = z
  .object({
    maxConcurrency: countOrPercent(1).optional(),
    maxErrors: countOrPercent(0).optional(),
    canary: z
      .object({
        count: countOrPercent(1),
        bakeMs: z.number().int('must be a whole number of milliseconds').min(0).max(MAX_BAKE_MS, `must be at most ${MAX_BAKE_MS} (a day)`).default(0),
      })
      .strict()
      .optional(),
  })
  .strict();
export type StrategyInput = z.infer<typeof StrategyInput>;

/**
 * Body of POST /v1/runs: a job's fields (`secretEnv` included: every child gets it, as a single
 * job does), less its single target, plus the run's own. Strict.
 */
export const RunInput = JobInput.pick({ command: true, env: true, secretEnv: true, cwd: true, timeoutMs: true, labels: true, runAt: true, priority: true, retry: true, retainDays: true })
  .extend({
    targets: RunTargetsInput,
    strategy: StrategyInput.default({}),
    offline: z.enum(OFFLINE_POLICIES).default('wait'),
    dispatchTimeoutMs: z.number().int('must be a whole number of milliseconds').min(1).max(MAX_DISPATCH_TIMEOUT_MS).optional(),
  })
  .strict();
export type RunInput = z.infer<typeof RunInput>;

const share = (v: string, total: number) => (parseInt(v, 10) * total) / 100;

/**
 * The strategy against `total` targets, as SSM rounds: a concurrency or canary share rounds up
 * and is at least 1 (10 % of 5 targets is 1 at a time, not none); an error share rounds down
 * (10 % of 5 is 0: the first failure stops the run). Absent: everything at once, no error limit,
 * no canary.
 *
 * Returns the field that does not fit (only a canary larger than the target set can fail here;
 * the schema refused the rest).
 */
export function resolveStrategy(s: StrategyInput, total: number): ResolvedStrategy | { field: string; message: string } {
  const atLeastOne = (v: number | string) => (typeof v === 'number' ? v : Math.max(1, Math.ceil(share(v, total))));
  const maxConcurrency = s.maxConcurrency === undefined ? total : Math.min(total, atLeastOne(s.maxConcurrency));
  const maxErrors = s.maxErrors === undefined ? null : typeof s.maxErrors === 'number' ? s.maxErrors : Math.floor(share(s.maxErrors, total));
  let canary: ResolvedStrategy['canary'] = null;
  if (s.canary) {
    const count = atLeastOne(s.canary.count);
    if (count > total) {
      return { field: 'strategy.canary.count', message: `strategy.canary.count: ${count} canaries is more than the ${total} targets the run matches` };
    }
    canary = { count, bakeMs: s.canary.bakeMs };
  }
  return { maxConcurrency: Math.max(1, maxConcurrency), maxErrors, canary };
}
