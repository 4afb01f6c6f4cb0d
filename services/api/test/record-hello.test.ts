/**
 * PROTOCOL.md §1 + §6: the hello's one statement (gateway/record-hello.ts) against a real
 * Postgres: it records the hello, fences each reported job, and its stored prefix agrees with
 * storedPrefixLength (the two-query reference) with no hole, with holes, and with nothing stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@vmo/testkit';
import { openDatabase, type Database } from '@vmo/shared/db';
import { newId } from '@vmo/shared/ids';
import type { AgentHello } from '@vmo/shared/protocol';
import { recordHello, reportedKey } from '../src/gateway/record-hello.ts';
import { storedPrefixLength } from '../src/gateway/stored-prefix.ts';

let testDb: TestDatabase;
let database: Database;
let sql: Database['sql'];
const agentId = newId('agt');
const otherAgent = newId('agt');

beforeAll(async () => {
  testDb = await createTestDatabase('record_hello');
  database = openDatabase(testDb.url, { max: 2 });
  sql = database.sql;
  for (const id of [agentId, otherAgent]) await sql`insert into agents (id, name, token_hash) values (${id}, ${id}, ${id})`;
}, 60_000);

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

async function job(opts: { status: string; attempt: number; agent: string; accepted?: boolean; cancel?: boolean; seqs?: number[]; seqAttempt?: number }): Promise<string> {
  const id = newId('job');
  await sql`insert into jobs (id, status, command, target, timeout_ms, agent_id, attempt, accepted_at, cancel_reason, cancel_grace_ms)
    values (${id}, ${opts.status}, 'true', '{"type":"agent","agent":"x"}'::jsonb, 60000, ${opts.agent}, ${opts.attempt},
      case when ${opts.accepted ?? false} then clock_timestamp() end, ${opts.cancel ? 'canceled' : null}, ${opts.cancel ? 2500 : null})`;
  for (const seq of opts.seqs ?? []) {
    await sql`insert into job_output (job_id, attempt, seq, stream, data) values (${id}, ${opts.seqAttempt ?? opts.attempt}, ${seq}, 1, ${Buffer.from('x')})`;
  }
  return id;
}

const hello = (jobs: AgentHello['jobs']): AgentHello => ({ type: 'hello', v: 1, agentVersion: '9.9.9', hostname: 'vm-h', os: 'linux', arch: 'x64', jobs });

describe('§1 §6 recordHello', () => {
  it('records the hello and fences every reported job in one statement; the stored prefix agrees with storedPrefixLength', async () => {
    const dense = await job({ status: 'running', attempt: 1, agent: agentId, accepted: true, seqs: [0, 1, 2] });
    const holed = await job({ status: 'running', attempt: 2, agent: agentId, seqs: [0, 1, 3, 4, 6] });
    const startsLate = await job({ status: 'running', attempt: 1, agent: agentId, seqs: [1, 2] });
    const empty = await job({ status: 'running', attempt: 1, agent: agentId, cancel: true });
    const olderAttempt = await job({ status: 'running', attempt: 3, agent: agentId, seqs: [0], seqAttempt: 2 });
    const ended = await job({ status: 'lost', attempt: 1, agent: agentId, seqs: [0] });
    const elsewhere = await job({ status: 'running', attempt: 1, agent: otherAgent, seqs: [0] });
    const confirmedGone = await job({ status: 'running', attempt: 1, agent: agentId, accepted: true });
    const unknown = newId('job');
    const reported = [
      { jobId: dense, attempt: 1, nextSeq: 3 },
      { jobId: holed, attempt: 2, nextSeq: 7 },
      { jobId: startsLate, attempt: 1, nextSeq: 3 },
      { jobId: empty, attempt: 1, nextSeq: 0 },
      { jobId: olderAttempt, attempt: 2, nextSeq: 1 },
      { jobId: ended, attempt: 1, nextSeq: 1 },
      { jobId: elsewhere, attempt: 1, nextSeq: 1 },
      { jobId: unknown, attempt: 1, nextSeq: 0 },
      { jobId: dense, attempt: 2 ** 40, nextSeq: 0 }, // any safe integer: matches nothing, refuses nothing
    ];
    const got = await recordHello(sql, agentId, { ...hello(reported), labels: { zone: 'eu' } }, { zone: 'eu' });

    const [row] = await sql`select hostname, version, os, arch, reported_labels, last_seen_at from agents where id = ${agentId}`;
    expect(row).toMatchObject({ hostname: 'vm-h', version: '9.9.9', os: 'linux', arch: 'x64', reported_labels: { zone: 'eu' } });
    expect(row!.last_seen_at).not.toBeNull();

    const prefix = (id: string, attempt: number) => got.reported.get(reportedKey(id, attempt))?.storedPrefix;
    for (const [id, attempt] of [[dense, 1], [holed, 2], [startsLate, 1], [empty, 1]] as const) {
      expect(prefix(id, attempt), id).toBe(await storedPrefixLength(sql, id, attempt));
    }
    expect([prefix(dense, 1), prefix(holed, 2), prefix(startsLate, 1), prefix(empty, 1)]).toEqual([3, 2, 0, 0]);
    // Not this agent's running job at the reported attempt: no prefix (the gateway abandons them).
    expect(got.reported.get(reportedKey(olderAttempt, 2))).toMatchObject({ attempt: 3, storedPrefix: null });
    expect(got.reported.get(reportedKey(ended, 1))).toMatchObject({ status: 'lost', storedPrefix: null });
    expect(got.reported.get(reportedKey(elsewhere, 1))).toMatchObject({ agentId: otherAgent, storedPrefix: null });
    expect(got.reported.get(reportedKey(dense, 2 ** 40))).toMatchObject({ attempt: 1, storedPrefix: null });
    expect(got.reported.has(reportedKey(unknown, 1))).toBe(false);

    expect(got.accepted.map((a) => a.id).sort()).toEqual([dense, confirmedGone].sort());
    expect(got.stops).toEqual([{ id: empty, graceMs: 2500 }]);
  });

  it('a hello with no jobs records it and reads nothing else', async () => {
    const lone = newId('agt');
    await sql`insert into agents (id, name, token_hash) values (${lone}, ${lone}, ${lone})`;
    const before = (await sql<{ at: Date }[]>`select clock_timestamp() as at`)[0]!.at;
    const got = await recordHello(sql, lone, hello([]), {});
    const after = (await sql<{ at: Date }[]>`select clock_timestamp() as at`)[0]!.at;
    const { helloAt, ...rest } = got;
    expect(rest).toEqual({ reported: new Map(), accepted: [], stops: [] });
    // Postgres' time of the statement, the clock of shell_sessions.opened_at (agent-session.ts's probe), never this process's.
    expect(helloAt).toBeInstanceOf(Date);
    expect(helloAt.getTime()).toBeGreaterThanOrEqual(new Date(before).getTime());
    expect(helloAt.getTime()).toBeLessThanOrEqual(new Date(after).getTime());
    const [row] = await sql`select hostname, reported_labels from agents where id = ${lone}`;
    expect(row).toMatchObject({ hostname: 'vm-h', reported_labels: {} });
  });
});
