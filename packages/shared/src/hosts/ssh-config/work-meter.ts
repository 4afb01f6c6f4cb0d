import { AppError } from '../../errors/app-error.ts';

/**
 * Limits on an imported config. The text comes from an HTTP body, so the work it can cause is
 * bounded up front (size, lines, blocks, aliases) and while it runs (steps). Each limit is well
 * above what real configs need (the largest ~/.ssh/config files seen are a few thousand hosts)
 * and is reported as a 413 that names it.
 */
export const SSH_CONFIG_LIMITS = {
  /** UTF-8 bytes of the config text. */
  bytes: 512 * 1024,
  /** Characters on one line: bounds the cost of one pattern match (an alias has at most 63). */
  lineChars: 64 * 1024,
  /** Host and Match blocks. */
  blocks: 20_000,
  /** Concrete aliases (hosts the import would create). */
  aliases: 10_000,
  /**
   * Pattern-matching and block-visiting steps for the whole import: every alias is checked
   * against every wildcard Host and Match block, so this bounds aliases × such blocks (and the
   * pattern lengths). 20 M steps is about 0.4 s of CPU, spent in slices between which the event
   * loop runs (see `runCooperatively`); 10,000 ordinary hosts take well under 1 M.
   */
  steps: 20_000_000,
} as const;

export const tooLarge = (message: string) => new AppError(413, 'ssh_config_too_large', `config: ${message}`, { field: 'config' });

/** Steps between two chances for the event loop to run (well under a millisecond of work). */
const SLICE_STEPS = 100_000;

/** Counts the steps of an evaluation and stops it with a 413 past the limit. */
export class WorkMeter {
  steps = 0;
  private sliceStart = 0;
  constructor(readonly limit: number = SSH_CONFIG_LIMITS.steps) {}

  /** True once per slice of work: the evaluation yields there. */
  sliceDone(): boolean {
    if (this.steps - this.sliceStart < SLICE_STEPS) return false;
    this.sliceStart = this.steps;
    return true;
  }

  charge(n: number): void {
    this.steps += n;
    if (this.steps > this.limit) {
      throw tooLarge(`evaluating this config takes more than ${this.limit} pattern-matching steps (many aliases checked against many wildcard Host or Match blocks); import it in smaller parts`);
    }
  }
}
