import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/app-error.ts';
import { scheduleClock } from './cron.ts';
import { MAX_MISSED_WALK, planTicks, type TickState } from './plan-ticks.ts';

const at = (iso: string) => new Date(iso);
const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;

/**
 * A scheduler that runs every `stepMs` from `from` to `to` on an injected clock, as the worker
 * loop does on the database's: the ticks it fires, in order.
 */
function simulate(cron: string, timezone: string, from: Date, to: Date, stepMs: number, catchUp: TickState['catchUp'] = 'none') {
  const clock = scheduleClock(cron, timezone);
  let state: TickState = { nextTickAt: clock.nextAfter(from), catchUp };
  const fired: string[] = [];
  for (let now = from.getTime(); now <= to.getTime(); now += stepMs) {
    const plan = planTicks(clock, state, new Date(now), 5_000);
    fired.push(...plan.fire.map((f) => f.at.toISOString()));
    state = { ...state, nextTickAt: plan.nextTickAt };
  }
  return fired;
}

describe('schedule ticks (an injected clock)', () => {
  it('30 2 * * * in Europe/Berlin fires once on the spring-forward day (02:30 does not exist: 03:00 CEST)', () => {
    // 2025-03-30: at 02:00 CET the clocks jump to 03:00 CEST.
    const fired = simulate('30 2 * * *', 'Europe/Berlin', at('2025-03-28T12:00:00Z'), at('2025-04-01T12:00:00Z'), 10_000);
    expect(fired).toEqual([
      '2025-03-29T01:30:00.000Z', // 02:30 CET
      '2025-03-30T01:00:00.000Z', // the gap: the first time after it, 03:00 CEST, once
      '2025-03-31T00:30:00.000Z', // 02:30 CEST
      '2025-04-01T00:30:00.000Z',
    ]);
    expect(fired.filter((t) => t.startsWith('2025-03-30'))).toHaveLength(1);
  });

  it('30 2 * * * in Europe/Berlin fires once on the fall-back day (02:30 happens twice: the first)', () => {
    // 2025-10-26: at 03:00 CEST the clocks go back to 02:00 CET; 02:30 is 00:30Z and again 01:30Z.
    const fired = simulate('30 2 * * *', 'Europe/Berlin', at('2025-10-24T12:00:00Z'), at('2025-10-28T12:00:00Z'), 10_000);
    expect(fired).toEqual([
      '2025-10-25T00:30:00.000Z', // 02:30 CEST
      '2025-10-26T00:30:00.000Z', // 02:30 CEST, the first of the two: once
      '2025-10-27T01:30:00.000Z', // 02:30 CET
      '2025-10-28T01:30:00.000Z',
    ]);
    expect(fired.filter((t) => t.startsWith('2025-10-26'))).toHaveLength(1);
  });

  it('every second, a pass per second: every tick once, none missing', () => {
    const fired = simulate('* * * * * *', 'UTC', at('2025-01-01T00:00:00.400Z'), at('2025-01-01T00:01:00.400Z'), 1_000);
    expect(fired).toHaveLength(60);
    expect(new Set(fired).size).toBe(60);
    expect(fired[0]).toBe('2025-01-01T00:00:01.000Z');
    expect(fired[59]).toBe('2025-01-01T00:01:00.000Z');
  });

  it('passes that come late (but within the missed threshold) fire every tick they find, oldest first', () => {
    const clock = scheduleClock('* * * * * *', 'UTC');
    const plan = planTicks(clock, { nextTickAt: at('2025-01-01T00:00:01Z'), catchUp: 'none' }, at('2025-01-01T00:00:04.500Z'), 5_000);
    expect(plan.fire.map((f) => iso(f.at))).toEqual(['2025-01-01T00:00:01.000Z', '2025-01-01T00:00:02.000Z', '2025-01-01T00:00:03.000Z', '2025-01-01T00:00:04.000Z']);
    expect(plan.skippedMissed).toBeUndefined();
    expect(iso(plan.nextTickAt)).toBe('2025-01-01T00:00:05.000Z');
  });

  it('catchUp none: ticks missed while no scheduler ran do not fire; the next one to come does', () => {
    const clock = scheduleClock('0 * * * *', 'UTC'); // hourly
    // Down from 00:10 to 05:20: the ticks of 01:00 … 05:00 were missed.
    const plan = planTicks(clock, { nextTickAt: at('2025-01-01T01:00:00Z'), catchUp: 'none' }, at('2025-01-01T05:20:00Z'), 5_000);
    expect(plan.fire).toEqual([]);
    expect(plan.skippedMissed).toEqual({ latest: at('2025-01-01T05:00:00Z'), count: 5, more: false });
    expect(iso(plan.nextTickAt)).toBe('2025-01-01T06:00:00.000Z');
  });

  it('catchUp latest: one fire, for the most recent missed tick', () => {
    const clock = scheduleClock('0 * * * *', 'UTC');
    const plan = planTicks(clock, { nextTickAt: at('2025-01-01T01:00:00Z'), catchUp: 'latest' }, at('2025-01-01T05:20:00Z'), 5_000);
    expect(plan.fire).toEqual([{ at: at('2025-01-01T05:00:00Z'), caughtUp: { missed: 5, more: false } }]);
    expect(plan.skippedMissed).toBeUndefined();
    expect(iso(plan.nextTickAt)).toBe('2025-01-01T06:00:00.000Z');
  });

  it('a day of a per-second schedule missed is not walked tick by tick: the latest is found directly', () => {
    const clock = scheduleClock('* * * * * *', 'UTC');
    const now = at('2025-01-02T00:00:00.500Z');
    const started = performance.now();
    const none = planTicks(clock, { nextTickAt: at('2025-01-01T00:00:00Z'), catchUp: 'none' }, now, 5_000);
    expect(performance.now() - started).toBeLessThan(5_000); // bounded work, not 86,400 steps (a generous bound: this is no benchmark)
    expect(none.skippedMissed).toEqual({ latest: at('2025-01-01T23:59:55Z'), count: MAX_MISSED_WALK, more: true });
    // The ticks within the threshold still fire: they were not missed, only not yet seen.
    expect(none.fire.map((f) => iso(f.at))).toEqual(['2025-01-01T23:59:56.000Z', '2025-01-01T23:59:57.000Z', '2025-01-01T23:59:58.000Z', '2025-01-01T23:59:59.000Z', '2025-01-02T00:00:00.000Z']);
    const latest = planTicks(clock, { nextTickAt: at('2025-01-01T00:00:00Z'), catchUp: 'latest' }, now, 5_000);
    expect(iso(latest.fire[0]!.at)).toBe('2025-01-01T23:59:55.000Z');
    expect(latest.fire).toHaveLength(6);
  });

  it('nothing due: nothing to do', () => {
    const clock = scheduleClock('0 0 * * *', 'UTC');
    expect(planTicks(clock, { nextTickAt: at('2025-01-02T00:00:00Z'), catchUp: 'none' }, at('2025-01-01T12:00:00Z'), 5_000)).toEqual({ fire: [], nextTickAt: at('2025-01-02T00:00:00Z') });
    expect(planTicks(clock, { nextTickAt: null, catchUp: 'none' }, at('2025-01-01T12:00:00Z'), 5_000)).toEqual({ fire: [], nextTickAt: null });
  });

  it('timezones: 0 9 * * 1-5 in America/New_York is 14:00Z in winter and 13:00Z in summer, weekdays only', () => {
    const clock = scheduleClock('0 9 * * 1-5', 'America/New_York');
    expect(clock.nextTicks(3, at('2025-01-03T00:00:00Z')).map(iso)).toEqual(['2025-01-03T14:00:00.000Z', '2025-01-06T14:00:00.000Z', '2025-01-07T14:00:00.000Z']);
    expect(iso(clock.nextAfter(at('2025-07-01T00:00:00Z')))).toBe('2025-07-01T13:00:00.000Z');
  });
});

describe('schedule expressions and zones: 400 naming the field', () => {
  const refusal = (cron: string, tz = 'UTC') => {
    try {
      scheduleClock(cron, tz);
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      const e = err as AppError;
      return { status: e.status, code: e.code, field: e.details?.field, message: e.message };
    }
    return undefined;
  };

  it('accepts five fields, six with seconds, and the nicknames', () => {
    for (const ok of ['30 2 * * *', '*/15 * * * *', '0 0 * * 1-5', '*/5 * * * * *', '0 30 2 * * *', '@daily', '@hourly', '0 0 1,15 * *', '0 12 * JAN-MAR MON']) {
      expect(refusal(ok), ok).toBeUndefined();
    }
  });

  it.each([
    ['61 * * * *', /minute/],
    ['* * *', /3 fields/],
    ['* * * * * * *', /7 fields/],
    ['0 0 30 2 *', /never fires/],
    ['every day', /2 fields/],
    ['@reboot', /1 field/],
    ['a b c d e', /.+/],
  ])('cron %j is refused', (cron, words) => {
    const r = refusal(cron);
    expect(r).toMatchObject({ status: 400, code: 'validation_failed', field: 'cron' });
    expect(r!.message).toMatch(/^cron: /);
    expect(r!.message).toMatch(words);
  });

  it.each(['Mars/Base', 'Europe/Berlinn', 'utc+2', '', '../etc/passwd'])('timezone %j is refused', (tz) => {
    expect(refusal('* * * * *', tz)).toMatchObject({ status: 400, code: 'validation_failed', field: 'timezone' });
  });

  it('accepts IANA zones and UTC', () => {
    for (const tz of ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+2', 'Asia/Kolkata']) expect(refusal('* * * * *', tz), tz).toBeUndefined();
  });
});
