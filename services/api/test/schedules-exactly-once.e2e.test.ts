/**
 * Issue 14, Schedules, "Must hold": exactly one job per tick. Three workers (each runs the
 * scheduler loop) and two API nodes, a schedule firing every second for 30 s (30 ticks), one worker
 * killed -9 and Redis killed -9 and restarted empty in the middle: every tick from the first to
 * the pause has its fire and one job, none missing, none doubled, and no job exists that no fire
 * made; the jobs fired while Redis was away run once it is back (the reconciler enqueues them:
 * firing needs nothing from Redis). Then the repair path: fires left
 * `pending` by a worker that died between claiming a tick and recording its job are finished by
 * the others, without a second job when the first one had been made.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer, TestSystem, waitFor } from '@vmo/testkit';

describe('schedules: one job per tick (3 workers, 2 API nodes, a worker killed -9)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  /** This file's own Redis: it is killed in the middle (the shared one never is). */
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
    // The reconciler every second: a job fired while Redis was away is enqueued soon after it is back.
    system = await TestSystem.start({ label: 'schedules_once', apis: 2, workers: 3, env: { VMO_REDIS_URL: redis.url, VMO_MAINTENANCE_MS: '1000' } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
  }, 120_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
    await redis?.kill();
  });

  const fires = (scheduleId: string) =>
    sql<{ at: string; kind: string; outcome: string; job_id: string | null; reason_code: string | null; fired_at: string | null }[]>`
      select at::text, kind, outcome, job_id, reason_code, fired_at::text from schedule_fires where schedule_id = ${scheduleId} order by at`;
  const firedCount = async (scheduleId: string) => Number((await sql`select count(*)::int as n from schedule_fires where schedule_id = ${scheduleId} and outcome = 'fired'`)[0]!.n);

  it('every second for 30 s: each of 30 ticks fired once, none missing, none doubled, across a worker and Redis killed -9', async () => {
    const api0 = system.client.vmo;
    const api1 = system.clientFor(1).vmo;
    const created = await api0.schedules.create({ name: 'every-second', cron: '* * * * * *', overlap: 'queue', job: { command: 'echo tick' } });
    const first = Date.parse(created.nextFires[0]!);
    expect(created.nextFires.map((t) => Date.parse(t) - first)).toEqual([0, 1000, 2000, 3000, 4000]);

    await waitFor('8 fires', async () => (await firedCount(created.id)) >= 8, 60_000, 100);
    await system.workers[1]!.kill(); // -9, mid-stream: whatever it had claimed is the others' to finish
    const killedAt = Date.now();
    await waitFor('14 fires', async () => (await firedCount(created.id)) >= 14, 60_000, 100);
    await redis.kill(); // every queue and presence key gone; the ticks go on from Postgres alone
    const redisDownAt = Date.now();
    const beforeOutage = await firedCount(created.id);
    await waitFor('3 fires without Redis', async () => (await firedCount(created.id)) >= beforeOutage + 3, 60_000, 100);
    await redis.launch(); // empty
    const redisUpAt = Date.now();
    // The issue's must-hold: a one-second schedule for 30 s.
    await waitFor('30 fires', async () => (await firedCount(created.id)) >= 30, 90_000, 100);
    // Paused through the other API node.
    const paused = await api1.schedules.pause(created.id);
    const pausedAt = Date.parse(paused.updatedAt);
    await waitFor('no fire pending', async () => (await fires(created.id)).every((f) => f.outcome !== 'pending'), 60_000, 100);
    // No pass fires it any more: what is recorded now is all there will be.
    const ticks = await fires(created.id);

    const times = ticks.map((f) => Date.parse(f.at));
    expect(times[0]).toBe(first);
    expect(ticks.length).toBeGreaterThanOrEqual(30);
    expect(times[times.length - 1]! - times[0]!).toBeGreaterThanOrEqual(29_000);
    // None missing: one row a second from the first to the last, each fired with its own job.
    const gaps = times.slice(1).filter((t, i) => t - times[i]! !== 1000);
    expect(gaps, `ticks not one second apart: ${JSON.stringify(ticks)}`).toEqual([]);
    expect(ticks.filter((f) => f.kind !== 'tick' || f.outcome !== 'fired')).toEqual([]);
    // The last tick handled is within a few loops of the pause (ticks after it never fire).
    expect(pausedAt - times[times.length - 1]!).toBeLessThan(5_000);
    expect(times.some((t) => t > killedAt)).toBe(true);
    // Jobs made (and their fires recorded) while Redis was down.
    const firedWithoutRedis = ticks.filter((f) => Date.parse(f.fired_at!) > redisDownAt && Date.parse(f.fired_at!) < redisUpAt);
    expect(firedWithoutRedis.length).toBeGreaterThanOrEqual(3);
    // None doubled: a job per fire, and no job that no fire recorded (a second one made for a tick).
    const jobIds = ticks.map((f) => f.job_id);
    expect(new Set(jobIds).size).toBe(ticks.length);
    const jobs = await sql<{ id: string; command: string }[]>`select id, command from jobs`;
    expect(jobs.map((j) => j.id).sort()).toEqual([...(jobIds as string[])].sort());
    expect(jobs.every((j) => j.command === 'echo tick')).toBe(true);
    const perTick = new Map<number, number>();
    for (const t of times) perTick.set(t, (perTick.get(t) ?? 0) + 1);
    console.log(
      `[schedules_once] ${ticks.length} ticks over ${((times[times.length - 1]! - times[0]!) / 1000 + 1).toFixed(0)} s, ${jobs.length} jobs, fires per tick: min ${Math.min(...perTick.values())} max ${Math.max(...perTick.values())}, ` +
        `worker killed -9 after tick ${times.filter((t) => t <= killedAt).length}, ${firedWithoutRedis.length} fired while Redis was down`,
    );
    // Those made while Redis was away run once it is back: the reconciler enqueued them.
    for (const f of firedWithoutRedis) expect((await system.client.waitForEnd(f.job_id!, 60_000)).status, f.job_id!).toBe('succeeded');
    // What a user sees: the last fires with their jobs' statuses.
    const view = await api0.schedules.get(created.id);
    expect(view.lastFires).toHaveLength(10);
    expect(view.lastFires.every((f) => f.outcome === 'fired' && f.jobId !== null)).toBe(true);
    expect(view.nextFires).toEqual([]);
  }, 240_000);

  it('fires a dead worker left pending are finished by the others: the job made once, whether or not it had been made', async () => {
    const api = system.client.vmo;
    const s = await api.schedules.create({ name: 'repair', cron: '0 0 1 1 *', job: { command: 'echo repaired' }, paused: true });
    const made = await api.schedules.trigger(s.id); // a job, as if the dead worker had made it for tick B
    const tickA = '2030-01-01T00:00:00.000Z';
    const tickB = '2030-01-02T00:00:00.000Z';
    const tickOld = new Date(Date.now() - 2 * 3600_000).toISOString().replace(/\.\d+Z$/, '.000Z');
    // Claimed a minute ago and never finished: A with no job; B whose job exists under its key; one two hours old.
    await sql`
      insert into schedule_fires (schedule_id, kind, at, outcome, claimed_at)
      values (${s.id}, 'tick', ${tickA}, 'pending', now() - interval '1 minute'),
             (${s.id}, 'tick', ${tickB}, 'pending', now() - interval '1 minute'),
             (${s.id}, 'tick', ${tickOld}, 'pending', now() - interval '1 minute')`;
    await sql`insert into idempotency_keys (principal, key, request_hash, job_id) values (${`schedule:${s.id}`}, ${`tick:${tickB}`}, 'made-before-the-crash', ${made.jobId})`;
    const jobsBefore = Number((await sql`select count(*)::int as n from jobs`)[0]!.n);

    const done = await waitFor('the pending fires finished', async () => {
      const rows = await fires(s.id);
      return rows.filter((r) => r.kind === 'tick').every((r) => r.outcome !== 'pending') ? rows : undefined;
    }, 30_000, 200);
    const byTick = new Map(done.filter((r) => r.kind === 'tick').map((r) => [new Date(r.at).toISOString(), r]));
    expect(byTick.get(tickB)).toMatchObject({ outcome: 'fired', job_id: made.jobId });
    expect(byTick.get(tickA)).toMatchObject({ outcome: 'fired' });
    expect(byTick.get(tickA)!.job_id).toMatch(/^job_/);
    expect(byTick.get(tickOld)).toMatchObject({ outcome: 'failed', job_id: null, reason_code: 'fire_abandoned' });
    // One job more: A's. B's was not made again.
    expect(Number((await sql`select count(*)::int as n from jobs`)[0]!.n)).toBe(jobsBefore + 1);
    expect((await system.client.waitForEnd(byTick.get(tickA)!.job_id!)).status).toBe('succeeded');
  }, 60_000);
});
