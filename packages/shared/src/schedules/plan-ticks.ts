import type { ScheduleCatchUp } from '../domain/schedule.ts';
import type { ScheduleClock } from './cron.ts';

/** Ticks walked one by one at most, when counting missed ones (a day of a per-second schedule is not walked). */
export const MAX_MISSED_WALK = 1000;
/** Ticks fired by one pass for one schedule at most; the rest wait for the next pass (none is lost). */
export const MAX_FIRES_PER_PASS = 100;

export interface TickState {
  /** The first tick not yet handled (schedules.next_tick_at); null: none to come. */
  nextTickAt: Date | null;
  catchUp: ScheduleCatchUp;
}

export interface PlannedFire {
  at: Date;
  /** The one missed tick `catchUp: latest` fires; how many missed ticks it stands for. */
  caughtUp?: { missed: number; more: boolean };
}

export interface TickPlan {
  /** Ticks to fire now, oldest first (each still subject to the overlap policy). */
  fire: PlannedFire[];
  /** Missed ticks that do not fire (`catchUp: none`): the latest, and how many (`more`: at least that many). */
  skippedMissed?: { latest: Date; count: number; more: boolean };
  /** The new first tick not yet handled (> now, unless MAX_FIRES_PER_PASS stopped the walk). */
  nextTickAt: Date | null;
}

/**
 * What one pass of the scheduler does with one schedule at `now`: pure, so `now` is whatever the
 * caller says (the database's clock in the loop, a made-up one in tests).
 *
 * Every tick from `nextTickAt` up to `now` is due. A due tick at most `missedAfterMs` old fires
 * (late, perhaps, but no scheduler missed it: the loops were slow); an older one was MISSED (no
 * scheduler ran when it came): with `catchUp: none` none of those fires, with `latest` the most
 * recent of them fires, once. Either way the new `nextTickAt` is past every tick handled.
 */
export function planTicks(clock: ScheduleClock, state: TickState, now: Date, missedAfterMs: number): TickPlan {
  let t = state.nextTickAt;
  if (t === null || t > now) return { fire: [], nextTickAt: t };
  const cutoff = new Date(now.getTime() - missedAfterMs);
  const fire: PlannedFire[] = [];

  if (t <= cutoff) {
    let latest = t;
    let count = 0;
    while (t !== null && t <= cutoff && count < MAX_MISSED_WALK) {
      latest = t;
      count++;
      t = clock.nextAfter(t);
    }
    let more = false;
    if (t !== null && t <= cutoff) {
      // Too many to walk: the last missed one is the tick before the first one past the cutoff.
      more = true;
      t = clock.nextAfter(cutoff);
      latest = clock.previousBefore(t ?? new Date(cutoff.getTime() + 1)) ?? latest;
    }
    if (state.catchUp === 'latest') fire.push({ at: latest, caughtUp: { missed: count, more } });
    else return { ...planFresh(clock, t, now, fire), skippedMissed: { latest, count, more } };
  }
  return planFresh(clock, t, now, fire);
}

/** The due ticks after the missed ones: each fires. */
function planFresh(clock: ScheduleClock, from: Date | null, now: Date, fire: PlannedFire[]): TickPlan {
  let t = from;
  while (t !== null && t <= now && fire.length < MAX_FIRES_PER_PASS) {
    fire.push({ at: t });
    t = clock.nextAfter(t);
  }
  return { fire, nextTickAt: t };
}
