/**
 * SHELL.md §S4 with an API node whose clock is ahead of Postgres': once an agent is welcomed, the
 * node asks it about the open sessions its rows say it holds that were opened BEFORE the welcome
 * (gateway/shell-relay-holder.ts probeOpenSessions), and ends those it no longer holds as lost.
 * "Before" must be read on the clock that wrote `opened_at` (Postgres'): on the node's own clock,
 * a node 30 s ahead counted sessions opened after the welcome as older ones, and a session being
 * opened (its shell_open still on its way to the agent) was ended under its user.
 *
 * Real API processes, one of them with its wall clock 30 s ahead (clock/skewed-clock.mjs), Postgres,
 * Redis; the agent is driven by hand (raw-agent-socket.ts) so the test sees exactly what it is asked.
 */
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { TestSystem, TEST_REDIS_URL, waitFor } from '@vmo/testkit';
import { publishAgentCommand } from '@vmo/shared/bus';
import { createRedis, keys, type Redis } from '@vmo/shared/redis';
import { connectRawAgent, helloFrame } from './raw-agent-socket.ts';

const SKEW_MS = 30_000;
const SKEWED_CLOCK = fileURLToPath(new URL('./clock/skewed-clock.mjs', import.meta.url));
const sessionId = () => `shs_${[...randomBytes(20)].map((b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('')}`;

describe('the lost-session probe on an API node whose clock is ahead (SHELL.md §S4)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let redis: Redis;
  let skewedUrl: string;

  beforeAll(async () => {
    // The default heartbeat (the hand-driven agent sends none) and a long shell grace (nothing here is reaped by it).
    system = await TestSystem.start({ label: 'clock_skew', env: { VMO_HEARTBEAT_MS: '10000', VMO_SHELL_GRACE_MS: '600000' } });
    await system.startApi({ NODE_OPTIONS: `--import ${SKEWED_CLOCK}`, VMO_TEST_CLOCK_SKEW_MS: String(SKEW_MS) });
    skewedUrl = system.apiUrls[1]!;
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    redis = createRedis(TEST_REDIS_URL);
  }, 180_000);

  afterAll(async () => {
    redis?.disconnect();
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  const openRow = async (session: string, agentId: string) => {
    await sql`insert into shell_sessions (id, target_kind, target_id, target_name, user_name, cols, rows) values (${session}, 'agent', ${agentId}, 'skewed', 'admin', 80, 24)`;
  };
  const row = async (session: string) => (await sql`select ended_at from shell_sessions where id = ${session}`)[0]!;

  it('asks only about sessions opened before the welcome by Postgres\' clock: a session opened after it is not ended', async () => {
    // The node's clock really is ahead: the times in its log say so.
    const [, listenedAt] = await system.apis[1]!.waitForOutput(/"time":"([^"]+)"[^\n]*"msg":"api listening"/);
    expect(Date.parse(listenedAt!) - Date.now()).toBeGreaterThan(SKEW_MS - 10_000);

    const res = await system.client.request('POST', '/v1/agents', { name: 'skewed' });
    expect(res.status).toBe(201);
    const { id: agentId, token } = res.body as { id: string; token: string };

    // Opened before the agent connects, and not held by it (it restarted): the probe must end it.
    const lost = sessionId();
    await openRow(lost, agentId);

    const agent = await connectRawAgent(skewedUrl, token);
    agent.send(helloFrame(['shell']));
    await agent.frame('welcome');
    // It beats as an agent does (§5), so the node never takes it for a silent socket however slow this machine is.
    const beating = setInterval(() => agent.send({ type: 'heartbeat', v: 1, running: 0 }), 2_000);
    onTestFinished(() => clearInterval(beating));
    // Opened after the welcome: its shell_open may still be on its way to the agent when the probe
    // runs, so the agent answering "not found" must not end it. Not probed at all.
    const opening = sessionId();
    await openRow(opening, agentId);

    // The probe runs SHELL_OPEN_TIMEOUT_MS + 5 s after the welcome (agent-session.ts).
    const ack = await agent.frame('shell_ack', (f) => f['session'] === lost, 60_000);
    // The agent does as a real one does for a session it does not hold (shell-holder.ts notFound).
    const answerProbe = (f: Record<string, unknown>) =>
      agent.send({ type: 'shell_error', v: 1, session: f['session'], attach: f['attach'], code: 'session_not_found', message: 'no such shell session is held here' });
    // Every ack of one probe is sent at once; a command published now reaches the agent after them all.
    await publishAgentCommand({ redis, keys: keys(system.env.VMO_REDIS_PREFIX!) }, agentId, { type: 'cancel', jobId: 'job_probemarker', graceMs: 1 });
    await agent.frame('cancel', (f) => f['jobId'] === 'job_probemarker');
    const probed = agent.frames().filter((f) => f.type === 'shell_ack').map((f) => f['session']);
    for (const f of agent.frames().filter((f) => f.type === 'shell_ack')) answerProbe(f);
    expect(ack['offset']).toBe(0);
    // LOUD: a session asked about here that the agent does not hold YET is ended under its user.
    expect(probed).toEqual([lost]);

    await waitFor('the lost session ended', async () => ((await row(lost)).ended_at ? true : undefined), 30_000, 100);
    expect((await row(opening)).ended_at).toBeNull();

    agent.ws.close(1000);
    await agent.closed;
  }, 120_000);
});
