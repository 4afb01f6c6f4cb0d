/**
 * Issue 18, "Life without a person watching": the workspace lifecycle pass against real Postgres,
 * with an injected clock and direct SQL fixtures (template versions, workspaces, operations with
 * chosen timestamps). No engine runs: the test plays it, ending the operations the pass asked for
 * (`finish`), and asserts which operations the pass creates, with their reason. Rules: TTL stop at
 * the deadline and not before; activity (a shell session, a running job) bumps the deadline
 * forward, never past its max, never backwards; idle stop; autostart at a cron tick in a timezone;
 * a scheduled session started early, kept from idle and TTL stops, stopped at its end even in use;
 * dormancy then autodelete, and a start waking a dormant workspace; failure clean-up; and two
 * passes at once (two control planes, the same clock) making one operation.
 *
 * Fixture times are in the past (BASE is 90 days ago) because the operations the pass creates get
 * the database's clock as created_at: they must sort after the fixtures' ones, as in real life.
 */
import { pino } from 'pino';
import type postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commonSchema } from '@vmo/shared/config';
import { openControlPlane, type ControlPlane } from '@vmo/shared/control-plane';

type OpenControlPlane = ControlPlane & { close(): Promise<void> };
import { newId } from '@vmo/shared/ids';
import { scheduleClock } from '@vmo/shared/schedules';
import { createWorkspaceSession, requestOperation } from '@vmo/shared/workspaces';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, waitFor, type TestDatabase } from '@vmo/testkit';
import { startWorkspaceLifecycleLoop } from '../../src/workspaces/lifecycle/lifecycle-loop.ts';
import { runLifecyclePass } from '../../src/workspaces/lifecycle/lifecycle-pass.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** 90 days ago, on a whole minute. */
const BASE = new Date(Math.floor((Date.now() - 90 * DAY) / MIN) * MIN);
const at = (ms: number) => new Date(BASE.getTime() + ms);

let db: TestDatabase;
let prefix: ReturnType<typeof createTestPrefix>;
let cp: OpenControlPlane;
/** A second worker's control plane (its own pool): two passes at once really run at once. */
let cp2: OpenControlPlane;
let sql: postgres.Sql;

beforeAll(async () => {
  db = await createTestDatabase('ws_lifecycle');
  prefix = createTestPrefix('ws_lifecycle');
  const config = commonSchema.parse({ VMO_DATABASE_URL: db.url, VMO_REDIS_URL: TEST_REDIS_URL, VMO_REDIS_PREFIX: prefix.prefix });
  const log = pino({ level: process.env.VMO_TEST_LOG ?? 'silent' });
  cp = await openControlPlane(config, log, { dbPoolSize: 4 });
  cp2 = await openControlPlane(config, log, { dbPoolSize: 4 });
  sql = cp.database.sql;
});

afterAll(async () => {
  await cp2?.close();
  await cp?.close();
  await db?.drop();
  await prefix?.cleanup();
});

// Each pass looks at every live workspace: a test's workspaces are put away after it.
afterEach(async () => {
  await sql`update workspaces set deleted_at = clock_timestamp() where deleted_at is null`;
});

const pass = (now: Date, on: ControlPlane = cp) => runLifecyclePass(on, { now: () => now });

interface TemplateSettings {
  defaultTtlMs?: number;
  maxDeadlineMs?: number;
  activityBumpMs?: number;
  idleTimeoutMs?: number;
  failureTtlMs?: number;
  timeTilDormantMs?: number;
  timeTilDormantAutodeleteMs?: number;
}

async function template(s: TemplateSettings): Promise<string> {
  const id = newId('tpl');
  await sql`insert into templates (id, name) values (${id}, ${`t-${id.slice(-8)}`})`;
  await sql`
    insert into template_versions (template_id, version, provider, default_ttl_ms, max_deadline_ms, activity_bump_ms, idle_timeout_ms,
      failure_ttl_ms, time_til_dormant_ms, time_til_dormant_autodelete_ms)
    values (${id}, 1, 'fake', ${s.defaultTtlMs ?? null}, ${s.maxDeadlineMs ?? null}, ${s.activityBumpMs ?? null}, ${s.idleTimeoutMs ?? null},
      ${s.failureTtlMs ?? null}, ${s.timeTilDormantMs ?? null}, ${s.timeTilDormantAutodeleteMs ?? null})`;
  return id;
}

interface Ws {
  id: string;
  agentId: string;
}

/** A workspace and its operations so far (each `[type, status, endedAt]`, oldest first). */
async function workspace(
  templateId: string,
  ops: [type: string, status: string, endedAt: Date | null][],
  extra: { ttlMs?: number; idleTimeoutMs?: number; lastActiveAt?: Date; autostartCron?: string; autostartTimezone?: string } = {},
): Promise<Ws> {
  const id = newId('wks');
  const agentId = newId('agt');
  await sql`
    insert into workspaces (id, name, owner_name, template_id, template_version, agent_id, ttl_ms, idle_timeout_ms, last_active_at, autostart_cron, autostart_timezone, created_at)
    values (${id}, ${`w-${id.slice(-8)}`}, 'olga', ${templateId}, 1, ${agentId}, ${extra.ttlMs ?? null}, ${extra.idleTimeoutMs ?? null},
      ${(extra.lastActiveAt ?? BASE).toISOString()}::timestamptz, ${extra.autostartCron ?? null}, ${extra.autostartTimezone ?? 'UTC'}, ${BASE.toISOString()}::timestamptz)`;
  let t = BASE.getTime() - HOUR;
  for (const [type, status, endedAt] of ops) {
    t += 1000; // created in this order, each before it ended
    await sql`
      insert into workspace_operations (id, workspace_id, type, status, reason, created_at, started_at, ended_at)
      values (${newId('wop')}, ${id}, ${type}, ${status}, 'user', ${new Date(t).toISOString()}::timestamptz, ${new Date(t).toISOString()}::timestamptz, ${endedAt?.toISOString() ?? null}::timestamptz)`;
  }
  return { id, agentId };
}

/** The engine's part: the operation ends with `status` at `endedAt`. */
async function finish(operationId: string, status: 'succeeded' | 'failed', endedAt: Date) {
  await sql`update workspace_operations set status = ${status}, started_at = coalesce(started_at, ${endedAt.toISOString()}::timestamptz), ended_at = ${endedAt.toISOString()}::timestamptz where id = ${operationId}`;
}

/** The operations the loop asked for (actor null), oldest first. */
async function loopOps(ws: Ws): Promise<{ id: string; type: string; reason: string; status: string }[]> {
  return sql`select id, type, reason, status from workspace_operations where workspace_id = ${ws.id} and actor_name is null and reason <> 'user' order by created_at, id`;
}

async function row(ws: Ws) {
  const [r] = await sql<{ deadline_at: Date | null; max_deadline_at: Date | null; last_active_at: Date; dormant_at: Date | null; autostart_next_at: Date | null }[]>`
    select deadline_at, max_deadline_at, last_active_at, dormant_at, autostart_next_at from workspaces where id = ${ws.id}`;
  const d = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());
  return { deadlineAt: d(r!.deadline_at), maxDeadlineAt: d(r!.max_deadline_at), lastActiveAt: d(r!.last_active_at), dormantAt: d(r!.dormant_at), autostartNextAt: d(r!.autostart_next_at) };
}

const iso = (d: Date) => d.toISOString();

async function openShell(ws: Ws): Promise<string> {
  const id = newId('shs');
  await sql`insert into shell_sessions (id, target_kind, target_id, target_name, user_name, cols, rows) values (${id}, 'agent', ${ws.agentId}, 'ws-agent', 'olga', 80, 24)`;
  return id;
}

async function runningJob(ws: Ws): Promise<string> {
  const id = newId('job');
  await sql`insert into jobs (id, status, command, target, agent_id, timeout_ms, started_at) values (${id}, 'running', 'sleep 1000', ${JSON.stringify({ type: 'agent', agent: 'ws-agent' })}::jsonb, ${ws.agentId}, 3600000, clock_timestamp())`;
  return id;
}

describe('TTL', () => {
  it('a succeeded start sets deadline = end + TTL (capped at max); the workspace is stopped at the deadline, not before', async () => {
    const t = await template({ defaultTtlMs: HOUR, maxDeadlineMs: 3 * HOUR });
    const ws = await workspace(t, [['create', 'succeeded', BASE]]);
    const capped = await workspace(await template({ defaultTtlMs: 5 * HOUR, maxDeadlineMs: 2 * HOUR }), [['create', 'succeeded', BASE]]);
    const own = await workspace(t, [['create', 'succeeded', BASE]], { ttlMs: 10 * MIN });

    expect(await pass(at(MIN))).toEqual([]);
    expect(await row(ws)).toMatchObject({ deadlineAt: iso(at(HOUR)), maxDeadlineAt: iso(at(3 * HOUR)) });
    expect((await row(capped)).deadlineAt).toBe(iso(at(2 * HOUR)));
    expect((await row(own)).deadlineAt).toBe(iso(at(10 * MIN))); // the workspace's own TTL first

    expect((await pass(at(10 * MIN))).map((a) => [a.workspaceId, a.reason])).toEqual([[own.id, 'autostop']]);
    expect(await pass(at(HOUR - 1000))).toEqual([]);
    expect(await loopOps(ws)).toEqual([]);
    const actions = await pass(at(HOUR));
    expect(actions.map((a) => [a.workspaceId, a.type, a.reason])).toEqual([[ws.id, 'stop', 'autostop']]);
    expect(await loopOps(ws)).toMatchObject([{ type: 'stop', reason: 'autostop', status: 'pending' }]);
    // While the stop is pending, no second one.
    expect((await pass(at(HOUR + MIN))).filter((a) => a.workspaceId === ws.id)).toEqual([]);
  });

  it('a new start gives a new deadline from its own end', async () => {
    const t = await template({ defaultTtlMs: HOUR });
    const ws = await workspace(t, [['create', 'succeeded', BASE], ['stop', 'succeeded', at(2 * HOUR)], ['start', 'succeeded', at(5 * HOUR)]]);
    await sql`update workspaces set deadline_at = ${iso(at(HOUR))}::timestamptz where id = ${ws.id}`; // the first start's
    expect(await pass(at(5 * HOUR + MIN))).toEqual([]);
    expect((await row(ws)).deadlineAt).toBe(iso(at(6 * HOUR)));
  });
});

describe('decisions on stale reads', () => {
  it('a deadline moved (PATCH, another loop\'s bump) or activity begun between the read and the request: no stop on the old facts', async () => {
    const t = await template({ defaultTtlMs: HOUR, idleTimeoutMs: 30 * MIN });
    const ws = await workspace(t, [['create', 'succeeded', BASE]], { idleTimeoutMs: 0 });
    const idle = await workspace(t, [['create', 'succeeded', BASE]], { ttlMs: 0 });
    await pass(at(MIN));
    expect((await row(ws)).deadlineAt).toBe(iso(at(HOUR)));

    // The pass reads the old deadline and decides autostop; the new one is committed (by another
    // connection) before its request: the request re-checks under the row's lock and asks nothing.
    const between = async (id: string) => {
      if (id === ws.id) await cp2.database.sql`update workspaces set deadline_at = ${iso(at(3 * HOUR))}::timestamptz where id = ${id}`;
      if (id === idle.id) await openShell(idle);
    };
    expect(await runLifecyclePass(cp, { now: () => at(HOUR), beforeRequest: between })).toEqual([]);
    expect(await loopOps(ws)).toEqual([]);
    expect(await loopOps(idle)).toEqual([]);
    expect(await pass(at(2 * HOUR))).toEqual([]);
    // The facts as they are now still decide: at the new deadline it stops.
    expect((await pass(at(3 * HOUR))).map((a) => [a.workspaceId, a.reason])).toEqual([[ws.id, 'autostop']]);
  });
});

describe('activity', () => {
  it('an open shell session moves the deadline to now + activityBump, never past max, never backwards; at max it stops even in use', async () => {
    const ws = await workspace(await template({ defaultTtlMs: HOUR, activityBumpMs: 2 * HOUR, maxDeadlineMs: 3 * HOUR }), [['create', 'succeeded', BASE]]);
    const slow = await workspace(await template({ defaultTtlMs: HOUR, activityBumpMs: 10 * MIN, maxDeadlineMs: 3 * HOUR }), [['create', 'succeeded', BASE]]);
    await pass(at(MIN));
    expect((await row(ws)).deadlineAt).toBe(iso(at(HOUR)));
    await openShell(ws);
    await openShell(slow);

    expect(await pass(at(10 * MIN))).toEqual([]);
    expect(await row(ws)).toMatchObject({ deadlineAt: iso(at(2 * HOUR + 10 * MIN)), lastActiveAt: iso(at(10 * MIN)) });
    // now + 10 min is before its deadline: it stays (never backwards), only last_active_at moves.
    expect(await row(slow)).toMatchObject({ deadlineAt: iso(at(HOUR)), lastActiveAt: iso(at(10 * MIN)) });

    await pass(at(20 * MIN));
    expect((await row(ws)).deadlineAt).toBe(iso(at(2 * HOUR + 20 * MIN)));
    // now + 2 h is past the max (start + 3 h): the max.
    await pass(at(2 * HOUR));
    expect((await row(ws)).deadlineAt).toBe(iso(at(3 * HOUR)));
    // A pass with an earlier clock (a worker whose clock is behind) never moves it back.
    await pass(at(30 * MIN));
    expect((await row(ws)).deadlineAt).toBe(iso(at(3 * HOUR)));
    expect(await loopOps(ws)).toEqual([]);

    // Still in use at the max: stopped (Coder's rule: the max is a hard stop).
    const actions = await pass(at(3 * HOUR));
    expect(actions.filter((a) => a.workspaceId === ws.id).map((a) => a.reason)).toEqual(['autostop']);
  });

  it('a running job on its agent counts as activity (idle timer and deadline); once it ends, the idle timeout counts from then', async () => {
    const ws = await workspace(await template({ defaultTtlMs: HOUR, activityBumpMs: HOUR, idleTimeoutMs: 30 * MIN }), [['create', 'succeeded', BASE]]);
    const job = await runningJob(ws);
    expect(await pass(at(50 * MIN))).toEqual([]);
    expect(await row(ws)).toMatchObject({ lastActiveAt: iso(at(50 * MIN)), deadlineAt: iso(at(HOUR + 50 * MIN)) });
    // Past its idle timeout since the start and past its first deadline, still running the job: not stopped.
    expect(await pass(at(HOUR + 10 * MIN))).toEqual([]);
    expect((await row(ws)).deadlineAt).toBe(iso(at(2 * HOUR + 10 * MIN)));
    // It ended when the last pass saw it (the fixture's clock, not the database's).
    await sql`update jobs set status = 'succeeded', finished_at = ${at(HOUR + 10 * MIN).toISOString()}::timestamptz where id = ${job}`;
    expect(await pass(at(HOUR + 39 * MIN))).toEqual([]);
    expect((await pass(at(HOUR + 40 * MIN))).map((a) => [a.workspaceId, a.reason])).toEqual([[ws.id, 'idle']]);
  });

  it('a job that started and ended between two passes counts too: a workspace used only by short jobs is not idle', async () => {
    const ws = await workspace(await template({ idleTimeoutMs: 30 * MIN }), [['create', 'succeeded', BASE]]);
    await sql`insert into jobs (id, status, command, target, agent_id, timeout_ms, created_at, started_at, finished_at)
              values (${newId('job')}, 'succeeded', 'true', ${JSON.stringify({ type: 'agent', agent: 'ws-agent' })}::jsonb, ${ws.agentId}, 3600000,
                      ${at(20 * MIN).toISOString()}::timestamptz, ${at(20 * MIN).toISOString()}::timestamptz, ${at(20 * MIN + 300).toISOString()}::timestamptz)`;
    expect(await pass(at(25 * MIN))).toEqual([]);
    expect((await row(ws)).lastActiveAt).toBe(iso(at(25 * MIN)));
    expect(await pass(at(54 * MIN))).toEqual([]); // idle 30 min counts from the pass that saw the job
    expect((await pass(at(55 * MIN))).map((a) => [a.workspaceId, a.reason])).toEqual([[ws.id, 'idle']]);
  });
});

describe('idle stop', () => {
  it('no session and no job for idleTimeoutMs since the last activity (or the start) stops it; the workspace value beats the template', async () => {
    const t = await template({ idleTimeoutMs: HOUR });
    const ws = await workspace(t, [['create', 'succeeded', at(10 * MIN)]], { lastActiveAt: BASE });
    const own = await workspace(t, [['create', 'succeeded', BASE]], { idleTimeoutMs: 20 * MIN, lastActiveAt: BASE });
    const used = await workspace(t, [['create', 'succeeded', BASE]], { lastActiveAt: at(30 * MIN) });
    expect((await pass(at(20 * MIN))).map((a) => [a.workspaceId, a.reason])).toEqual([[own.id, 'idle']]);
    expect(await pass(at(HOUR + 10 * MIN - 1000))).toEqual([]); // since its start's end, not since last_active_at
    expect((await pass(at(HOUR + 10 * MIN))).map((a) => [a.workspaceId, a.type, a.reason])).toEqual([[ws.id, 'stop', 'idle']]);
    expect((await pass(at(HOUR + 30 * MIN))).map((a) => [a.workspaceId, a.reason])).toEqual([[used.id, 'idle']]);
  });
});

describe('autostart', () => {
  it('starts a stopped workspace at each cron tick read in its timezone, once per tick', async () => {
    // A Monday about 60 days ago, 00:00 UTC. 09:00 in Asia/Kolkata (UTC+05:30, no daylight saving) is 03:30 UTC.
    const monday = new Date(Math.floor((Date.now() - 60 * DAY) / DAY) * DAY);
    while (monday.getUTCDay() !== 1) monday.setTime(monday.getTime() + DAY);
    const m = (ms: number) => new Date(monday.getTime() + ms);
    const t = await template({});
    const ws = await workspace(t, [['create', 'succeeded', m(-2 * DAY)], ['stop', 'succeeded', m(-DAY)]], { autostartCron: '0 9 * * 1-5', autostartTimezone: 'Asia/Kolkata' });
    const running = await workspace(t, [['create', 'succeeded', m(-2 * DAY)]], { autostartCron: '0 9 * * 1-5', autostartTimezone: 'Asia/Kolkata' });

    expect(await pass(m(0))).toEqual([]);
    expect((await row(ws)).autostartNextAt).toBe(iso(m(3.5 * HOUR)));
    expect(await pass(m(3.5 * HOUR - 1000))).toEqual([]);
    const actions = await pass(m(3.5 * HOUR));
    expect(actions.map((a) => [a.workspaceId, a.type, a.reason])).toEqual([[ws.id, 'start', 'autostart']]); // not the running one
    expect((await row(ws)).autostartNextAt).toBe(iso(m(DAY + 3.5 * HOUR))); // Tuesday's
    expect((await row(running)).autostartNextAt).toBe(iso(m(DAY + 3.5 * HOUR)));
    // The same tick again (a second pass a moment later): nothing.
    expect(await pass(m(3.5 * HOUR + 1000))).toEqual([]);
    expect(await loopOps(ws)).toMatchObject([{ type: 'start', reason: 'autostart' }]);

    // Started, then stopped again; a schedule without its next tick gets the first one after now:
    // from Friday noon, Saturday and Sunday have none, so Monday's.
    await finish((await loopOps(ws))[0]!.id, 'succeeded', m(3.5 * HOUR + MIN));
    await sql`insert into workspace_operations (id, workspace_id, type, status, reason, ended_at) values (${newId('wop')}, ${ws.id}, 'stop', 'succeeded', 'user', ${iso(m(4 * HOUR))}::timestamptz)`;
    await sql`update workspaces set autostart_next_at = null where id = ${ws.id}`;
    expect(await pass(m(4 * DAY + 12 * HOUR))).toEqual([]); // Friday noon (the running one's Tuesday tick is let go: hours late)
    expect((await row(ws)).autostartNextAt).toBe(iso(m(7 * DAY + 3.5 * HOUR)));
  });
});

describe('scheduled sessions', () => {
  it('started prepareLead early, not stopped by TTL or idle during it, stopped at its end even in use', async () => {
    const ws = await workspace(await template({ defaultTtlMs: 30 * MIN, idleTimeoutMs: 10 * MIN }), [['create', 'succeeded', BASE], ['stop', 'succeeded', at(MIN)]]);
    const startAt = at(2 * HOUR);
    const session = await createWorkspaceSession(cp, ws.id, { startAt: iso(startAt), durationMs: HOUR, prepareLeadMs: 10 * MIN }, { name: 'olga' }, BASE);
    expect(session).toMatchObject({ status: 'scheduled', prepareAt: iso(at(110 * MIN)), endAt: iso(at(3 * HOUR)) });
    const status = async () => (await sql<{ status: string; start_operation_id: string | null; stop_operation_id: string | null }[]>`select status, start_operation_id, stop_operation_id from workspace_sessions where id = ${session.id}`)[0]!;

    expect(await pass(at(110 * MIN - 1000))).toEqual([]);
    const prepared = await pass(at(110 * MIN));
    expect(prepared.map((a) => [a.type, a.reason, a.sessionId])).toEqual([['start', 'session_start', session.id]]);
    expect(await status()).toEqual({ status: 'preparing', start_operation_id: prepared[0]!.operationId, stop_operation_id: null });
    await finish(prepared[0]!.operationId, 'succeeded', at(112 * MIN)); // the engine: up at 01:52, deadline 02:22

    expect(await pass(at(2 * HOUR))).toEqual([]);
    expect((await status()).status).toBe('active');
    // Past its deadline and idle for far longer than its idle timeout: the session holds both off.
    expect(await pass(at(2 * HOUR + 50 * MIN))).toEqual([]);
    // In use at the end: stopped all the same.
    await openShell(ws);
    const ended = await pass(at(3 * HOUR));
    expect(ended.map((a) => [a.type, a.reason, a.sessionId])).toEqual([['stop', 'session_end', session.id]]);
    expect(await status()).toEqual({ status: 'ended', start_operation_id: prepared[0]!.operationId, stop_operation_id: ended[0]!.operationId });
    expect((await loopOps(ws)).map((o) => o.reason)).toEqual(['session_start', 'session_end']);
  });

  it('a workspace already up needs no start; a session whose window passed unprepared fails; a canceled one does nothing', async () => {
    const t = await template({});
    const up = await workspace(t, [['create', 'succeeded', BASE]]);
    const onUp = await createWorkspaceSession(cp, up.id, { startAt: iso(at(HOUR)), durationMs: HOUR, prepareLeadMs: 0 }, { name: 'olga' }, BASE);
    const down = await workspace(t, [['create', 'succeeded', BASE], ['stop', 'succeeded', at(MIN)]]);
    const missed = await createWorkspaceSession(cp, down.id, { startAt: iso(at(4 * HOUR)), durationMs: MIN, prepareLeadMs: 0 }, { name: 'olga' }, BASE);
    const canceled = await createWorkspaceSession(cp, down.id, { startAt: iso(at(3 * HOUR)), durationMs: MIN, prepareLeadMs: 0 }, { name: 'olga' }, BASE);
    await sql`update workspace_sessions set status = 'canceled', canceled_at = clock_timestamp() where id = ${canceled.id}`;
    const st = async (id: string) => (await sql<{ status: string }[]>`select status from workspace_sessions where id = ${id}`)[0]!.status;

    expect(await pass(at(HOUR))).toEqual([]);
    expect(await st(onUp.id)).toBe('active');
    expect(await pass(at(3 * HOUR))).toMatchObject([{ workspaceId: up.id, type: 'stop', reason: 'session_end', sessionId: onUp.id }]);
    // No pass ran during `missed`'s window (04:00 to 04:01): it failed, and nothing was started late.
    expect(await pass(at(5 * HOUR))).toEqual([]);
    expect(await st(missed.id)).toBe('failed');
    expect(await st(canceled.id)).toBe('canceled');
    expect(await loopOps(down)).toEqual([]);
  });
});

describe('dormancy', () => {
  it('unused past timeTilDormant: stopped and marked dormant; dormant past timeTilDormantAutodelete: deleted', async () => {
    const ws = await workspace(await template({ timeTilDormantMs: 7 * DAY, timeTilDormantAutodeleteMs: 30 * DAY }), [['create', 'succeeded', BASE]]);
    expect(await pass(at(7 * DAY - 1000))).toEqual([]);
    const stopped = await pass(at(7 * DAY));
    expect(stopped.map((a) => [a.workspaceId, a.type, a.reason])).toEqual([[ws.id, 'stop', 'dormancy']]);
    expect((await row(ws)).dormantAt).toBe(iso(at(7 * DAY)));
    await finish(stopped[0]!.operationId, 'succeeded', at(7 * DAY + MIN));
    expect(await pass(at(36 * DAY))).toEqual([]);
    const deleted = await pass(at(37 * DAY));
    expect(deleted.map((a) => [a.workspaceId, a.type, a.reason])).toEqual([[ws.id, 'delete', 'dormancy_delete']]);
    expect((await loopOps(ws)).map((o) => [o.type, o.reason])).toEqual([['stop', 'dormancy'], ['delete', 'dormancy_delete']]);
  });

  it('a stopped workspace is only marked; a start wakes it (dormant_at cleared) and it is not deleted', async () => {
    const t = await template({ timeTilDormantMs: 7 * DAY, timeTilDormantAutodeleteMs: 30 * DAY });
    const ws = await workspace(t, [['create', 'succeeded', BASE], ['stop', 'succeeded', at(HOUR)]]);
    expect(await pass(at(7 * DAY + HOUR))).toEqual([]);
    expect((await row(ws)).dormantAt).toBe(iso(at(7 * DAY + HOUR)));
    // Its owner starts it (the API: requestOperation); the engine brings it up.
    const op = await requestOperation(cp, { workspaceId: ws.id, type: 'start', reason: 'user', actor: { userId: null, name: 'olga' } });
    await finish(op.id, 'succeeded', at(8 * DAY));
    expect(await pass(at(8 * DAY + MIN))).toEqual([]);
    expect((await row(ws)).dormantAt).toBeNull();
    expect(await pass(at(40 * DAY + HOUR))).toMatchObject([{ workspaceId: ws.id, type: 'stop', reason: 'dormancy' }]); // unused again since day 8
    expect(await loopOps(ws)).toMatchObject([{ type: 'stop', reason: 'dormancy' }]);
  });
});

describe('failure clean-up', () => {
  it('a failed start left for failureTtl gets a stop', async () => {
    const ws = await workspace(await template({ failureTtlMs: HOUR }), [['create', 'failed', at(5 * MIN)]]);
    const noTtl = await workspace(await template({}), [['create', 'failed', at(5 * MIN)]]);
    expect(await pass(at(HOUR + 5 * MIN - 1000))).toEqual([]);
    expect((await pass(at(HOUR + 5 * MIN))).map((a) => [a.workspaceId, a.type, a.reason])).toEqual([[ws.id, 'stop', 'failure_cleanup']]);
    expect(await loopOps(noTtl)).toEqual([]);
  });
});

describe('two loops at once', () => {
  it('two passes with the same clock make one operation per rule (TTL, autostart tick, session start, dormancy)', async () => {
    for (let round = 0; round < 3; round++) {
      const ttl = await workspace(await template({ defaultTtlMs: HOUR }), [['create', 'succeeded', BASE]]);
      const auto = await workspace(await template({}), [['create', 'succeeded', BASE], ['stop', 'succeeded', at(MIN)]], { autostartCron: '*/5 * * * *', autostartTimezone: 'Europe/Berlin' });
      const booked = await workspace(await template({}), [['create', 'succeeded', BASE], ['stop', 'succeeded', at(MIN)]]);
      await createWorkspaceSession(cp, booked.id, { startAt: iso(at(2 * HOUR)), durationMs: HOUR, prepareLeadMs: 5 * MIN }, { name: 'olga' }, BASE);
      const dormant = await workspace(await template({ timeTilDormantMs: HOUR }), [['create', 'succeeded', BASE]]);
      await Promise.all([pass(at(MIN)), pass(at(MIN), cp2)]); // deadlines, autostart's first tick
      expect(await loopOps(dormant)).toEqual([]);
      // Its tick just before the moment all is due (a tick of its own expression, in its zone).
      const tick = scheduleClock('*/5 * * * *', 'Europe/Berlin').previousBefore(at(2 * HOUR + 1))!;
      await sql`update workspaces set autostart_next_at = ${iso(tick)}::timestamptz where id = ${auto.id}`;

      const now = at(2 * HOUR); // every rule due at once
      const [a, b] = await Promise.all([pass(now), pass(now, cp2)]);
      const all = [...a, ...b].map((x) => `${x.workspaceId === ttl.id ? 'ttl' : x.workspaceId === auto.id ? 'auto' : x.workspaceId === booked.id ? 'booked' : 'dormant'}:${x.reason}`).sort();
      expect(all).toEqual(['auto:autostart', 'booked:session_start', 'dormant:dormancy', 'ttl:autostop']);
      for (const [ws, reason] of [[ttl, 'autostop'], [auto, 'autostart'], [booked, 'session_start'], [dormant, 'dormancy']] as const) {
        expect((await loopOps(ws)).map((o) => o.reason)).toEqual([reason]);
      }
      await sql`update workspaces set deleted_at = clock_timestamp() where deleted_at is null`;
    }
  });
});

describe('the loop', () => {
  it('runs passes on its own timer with the real clock (as the worker starts it), and stops', async () => {
    // Its deadline (BASE + 1 h) is long past on the real clock.
    const ws = await workspace(await template({ defaultTtlMs: HOUR }), [['create', 'succeeded', BASE]]);
    const loop = startWorkspaceLifecycleLoop(cp, { everyMs: 50 });
    try {
      const ops = await waitFor('the loop to stop the workspace past its deadline', async () => {
        const found = await loopOps(ws);
        return found.length > 0 ? found : undefined;
      }, 20_000);
      expect(ops).toMatchObject([{ type: 'stop', reason: 'autostop' }]);
    } finally {
      await loop.stop();
    }
  });
});
