/**
 * Issue 14, Schedules: what `overlap` and `catchUp` do, on a real system (API and worker processes).
 *
 * - overlap `skip` vs `queue`, with a command slower than the schedule: `skip` never has two of
 *   its jobs running at once and records the ticks it skipped (reason `overlap`, naming the job
 *   still going); `queue` fires every tick, and its jobs run side by side.
 * - overlap `cancel_previous`: the next tick cancels the job still running, then fires.
 * - catchUp `none` vs `latest`, with every worker stopped while two ticks come and go: `none`
 *   fires neither (one `skipped` row, reason `missed`), `latest` fires once, for the later one.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';

describe('schedules: overlap and catchUp (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'schedules_policies' });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
  }, 120_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  type Fire = { at: string; outcome: string; reason_code: string | null; reason_message: string | null; job_id: string | null };
  const fires = (id: string) => sql<Fire[]>`select at::text, outcome, reason_code, reason_message, job_id from schedule_fires where schedule_id = ${id} and kind = 'tick' order by at`;
  const count = async (id: string, outcome: string) => (await fires(id)).filter((f) => f.outcome === outcome).length;
  const dbNow = async () => new Date((await sql<{ now: string }[]>`select clock_timestamp()::text as now`)[0]!.now);
  const jobsOf = async (rows: Fire[]) => {
    const ids = rows.map((f) => f.job_id).filter((id): id is string => id !== null);
    return Promise.all(ids.map((id) => system.client.waitForEnd(id, 60_000)));
  };

  it('skip never runs two at once and records what it skipped; queue fires every tick and its jobs overlap', async () => {
    const api = system.client.vmo;
    const slow = { command: 'sleep 1.6' };
    const skip = await api.schedules.create({ name: 'slow-skip', cron: '* * * * * *', job: slow });
    const queue = await api.schedules.create({ name: 'slow-queue', cron: '* * * * * *', overlap: 'queue', job: slow });
    expect(skip.overlap).toBe('skip'); // the default
    await waitFor('5 ticks handled', async () => (await fires(queue.id)).length >= 5 && (await fires(skip.id)).length >= 5, 60_000, 100);
    await Promise.all([api.schedules.pause(skip.id), api.schedules.pause(queue.id)]);
    await waitFor('nothing pending', async () => [...(await fires(skip.id)), ...(await fires(queue.id))].every((f) => f.outcome !== 'pending'), 30_000, 100);

    const skipped = await fires(skip.id);
    const skipJobs = await jobsOf(skipped);
    expect(skipJobs.length).toBeGreaterThanOrEqual(1);
    expect(skipJobs.every((j) => j.status === 'succeeded')).toBe(true);
    const overlapSkips = skipped.filter((f) => f.outcome === 'skipped');
    expect(overlapSkips.length).toBeGreaterThanOrEqual(2);
    for (const f of overlapSkips) {
      expect(f.reason_code).toBe('overlap');
      expect(f.reason_message).toMatch(/^skipped: (job job_[0-9a-z]{20}|the job of the tick at .+) has not ended \(overlap: skip\)$/);
    }
    // Never two at once: each job started after the one before had ended.
    const spans = skipJobs.map((j) => [Date.parse(j.startedAt!), Date.parse(j.finishedAt!)] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);

    const queued = await fires(queue.id);
    expect(queued.every((f) => f.outcome === 'fired')).toBe(true);
    const queueJobs = await jobsOf(queued);
    expect(queueJobs).toHaveLength(queued.length);
    expect(queueJobs.every((j) => j.status === 'succeeded')).toBe(true);
    const qSpans = queueJobs.map((j) => [Date.parse(j.startedAt!), Date.parse(j.finishedAt!)] as const).sort((a, b) => a[0] - b[0]);
    expect(qSpans.some((s, i) => i > 0 && s[0] < qSpans[i - 1]![1])).toBe(true);
    // What GET shows: the skipped ticks with their reason, the fired ones with their job's status.
    const view = await api.schedules.get(skip.id);
    expect(view.lastFires.some((f) => f.outcome === 'skipped' && f.reason?.code === 'overlap' && f.jobId === null)).toBe(true);
    expect(view.lastFires.some((f) => f.outcome === 'fired' && f.status === 'succeeded')).toBe(true);
  }, 90_000);

  it('cancel_previous cancels the job still running, then fires', async () => {
    const api = system.client.vmo;
    const s = await api.schedules.create({ name: 'replace', cron: '*/2 * * * * *', overlap: 'cancel_previous', job: { command: 'sleep 60' } });
    await waitFor('two fires', async () => (await count(s.id, 'fired')) >= 2, 60_000, 100);
    await api.schedules.pause(s.id);
    const rows = (await fires(s.id)).filter((f) => f.outcome === 'fired');
    const firstJob = await system.client.waitForEnd(rows[0]!.job_id!, 30_000);
    expect(firstJob.status).toBe('canceled');
    // The last one is still running: nothing came after it to cancel it. Cancel it by hand.
    const last = rows[rows.length - 1]!.job_id!;
    await system.client.waitForStatus(last, 'running');
    await api.jobs.cancel(last, { graceMs: 0 });
    expect((await system.client.waitForEnd(last)).status).toBe('canceled');
  }, 90_000);

  it('catchUp: with every worker stopped while two ticks pass, none fires neither, latest fires the later one once', async () => {
    const api = system.client.vmo;
    await system.workers[0]!.stop(); // the only worker: no scheduler runs now
    // Two ticks a second apart, 3 s from now, within one minute, on this hour of this day only.
    let first = new Date(Math.ceil(((await dbNow()).getTime() + 3000) / 1000) * 1000);
    if (first.getUTCSeconds() > 58) first = new Date(first.getTime() + 2000);
    const second = new Date(first.getTime() + 1000);
    const cron = `${first.getUTCSeconds()},${second.getUTCSeconds()} ${first.getUTCMinutes()} ${first.getUTCHours()} ${first.getUTCDate()} ${first.getUTCMonth() + 1} *`;
    const none = await api.schedules.create({ name: 'catch-up-none', cron, job: { command: 'echo none' } });
    const latest = await api.schedules.create({ name: 'catch-up-latest', cron, catchUp: 'latest', job: { command: 'echo latest' } });
    expect(none.nextFires.slice(0, 2)).toEqual([first.toISOString(), second.toISOString()]);
    // Both ticks are more than 5 s old (missed) before any scheduler runs again.
    await waitFor('both ticks missed', async () => (await dbNow()).getTime() > second.getTime() + 5_500, 30_000, 100);
    await system.startWorker();
    await waitFor('both schedules caught up', async () => (await fires(none.id)).length > 0 && (await fires(latest.id)).some((f) => f.outcome !== 'pending'), 60_000, 100);

    const noneFires = await fires(none.id);
    expect(noneFires).toEqual([{ at: expect.any(String), outcome: 'skipped', reason_code: 'missed', reason_message: expect.stringMatching(/^skipped: 2 tick\(s\) up to this one were missed/), job_id: null }]);
    expect(new Date(noneFires[0]!.at).toISOString()).toBe(second.toISOString());
    const latestFires = await fires(latest.id);
    expect(latestFires).toHaveLength(1);
    expect(latestFires[0]).toMatchObject({ outcome: 'fired', reason_code: 'caught_up' });
    expect(new Date(latestFires[0]!.at).toISOString()).toBe(second.toISOString());
    const job = await system.client.waitForEnd(latestFires[0]!.job_id!);
    expect(job.status).toBe('succeeded');
    expect((await system.client.logs(job.id)).toString()).toBe('latest\n');
    // Neither fires again until next year's date: the missed ticks are handled, not pending.
    expect((await api.schedules.get(none.id)).nextFires[0]).not.toBe(second.toISOString());
  }, 120_000);
});
