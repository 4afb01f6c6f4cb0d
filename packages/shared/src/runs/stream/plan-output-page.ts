import { continues, PAST_LAST_POSITION } from './chunk-position.ts';
import type { Hold } from './cursor.ts';
import type { OutputKey } from './sql/read-output-keys.ts';

export interface PagePlanInput {
  /** The window's next chunks in (index, position) order, as read with `limit + 1`. */
  keys: readonly OutputKey[];
  limit: number;
  /** Stop before a chunk that would take the page past this many bytes (a page has at least one chunk). */
  budgetBytes: number;
  /** Where the window stands: everything up to `at` examined, and the holds found so far. */
  at: readonly [number, number];
  nextHolds: readonly Hold[];
  /** The position (chunk-position.ts) each child's first chunk here must have to continue what the subscriber has. */
  expected: ReadonlyMap<number, number>;
}

export interface PagePlan {
  /** The chunks to send, in order; `holds`: how many of `nextHolds` were known when it was sent (its cursor's). */
  send: { key: OutputKey; holds: number }[];
  at: [number, number];
  nextHolds: Hold[];
  /** Every chunk of the window has been examined. */
  complete: boolean;
  /** What each child examined expects next (its exact next position), for the caller to remember. */
  learned: Map<number, number>;
}

/**
 * Which of a window's chunks go out now. Each child's chunks go out in order (attempt, then seq)
 * with no hole and no repeat: the first must be the one the subscriber expects next (or the first
 * chunk of a later attempt, chunk-position.ts), and each next one follows.
 *
 * LOUD: a child's chunks may commit out of order (the log sink has two batches in flight, and the
 * second can commit first), so a window can see seq 7 of a child whose seq 6 is still being
 * written. Sending 7 would put bytes out of order; skipping 6 would lose it. So from the first
 * missing seq on, the child's chunks are held: not sent, and recorded as a hold `[index, seq]`
 * that the next window reads again. A child that had already ended in the window's upper snapshot
 * is never held: its end is written after all of its output, so every chunk it will ever have is
 * here, and a hole is one no producer will fill (sending past it is all that is left to do).
 */
export function planOutputPage(input: PagePlanInput): PagePlan {
  const send: PagePlan['send'] = [];
  const nextHolds = [...input.nextHolds];
  const learned = new Map<number, number>();
  let at: [number, number] = [input.at[0], input.at[1]];
  let bytes = 0;
  let child = -2;
  let expect = 0;
  let held = false;
  const examined = input.keys.slice(0, input.limit);
  let complete = input.keys.length <= input.limit;

  for (const key of examined) {
    if (key.index !== child) {
      child = key.index;
      held = false;
      expect = input.expected.get(child) ?? 0;
    }
    if (held || key.position < expect) continue; // held: the rest of the child waits; below: sent already
    if (!continues(key.position, expect) && !key.endedByUpper) {
      held = true;
      nextHolds.push([child, expect]);
      learned.set(child, expect);
      at = [child, PAST_LAST_POSITION];
      continue;
    }
    if (send.length > 0 && bytes + key.bytes > input.budgetBytes) {
      complete = false;
      break;
    }
    send.push({ key, holds: nextHolds.length });
    bytes += key.bytes;
    expect = key.position + 1;
    learned.set(child, expect);
    at = [child, key.position];
  }
  return { send, at, nextHolds, complete, learned };
}
