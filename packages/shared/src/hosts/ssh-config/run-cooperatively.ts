import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Run a generator that yields between slices of work, letting the event loop run at every yield:
 * a large import then delays other requests by one slice (well under a millisecond), not by the
 * whole evaluation. Simpler than a worker thread (no second module graph to load under tsx or
 * vitest), and the work is bounded anyway.
 */
export async function runCooperatively<T>(work: Generator<void, T>): Promise<T> {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
    await nextTurn();
  }
}

/** Run the same generator to the end without yielding (tests, small inputs). */
export function runToCompletion<T>(work: Generator<void, T>): T {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
  }
}
