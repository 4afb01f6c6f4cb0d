/**
 * GET /v1/runs/{id}/summary at scale, on rows written straight into Postgres (the API in this
 * process, no worker: nothing moves the children but the test). What a user relies on: the hash is
 * the sha256 of the bytes GET /v1/jobs/{id}/logs answers, however they were chunked; a final
 * child's bytes are read once and the hash kept (a chunk stored later clears it); children still
 * running are grouped by status alone and never hashed; the answer stays small for 10,000 children
 * with 10,000 distinct outputs or hundreds of exit codes; a summary that cannot finish in time is a
 * 503 `summary_timeout`, never a 500. Every answer is checked against the route's contract.
 */
import { createHash } from 'node:crypto';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSummary as summaryRoute } from '@vmo/shared/api';
import { insertOutputBatch } from '@vmo/shared/logsink';
import { runSummary, SUMMARY_OUTPUTS_LISTED, SUMMARY_RESULT_GROUPS, SUMMARY_TARGETS_LISTED } from '@vmo/shared/runs';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** A run id (`run_` and 20 characters) from a short name. */
const runId = (name: string) => `run_${name.padEnd(20, '0')}`;

describe('the run summary at scale', () => {
  let api: InProcessApp;
  let sql: postgres.Sql;

  beforeAll(async () => {
    api = await startInProcessApp('run_summary');
    sql = api.cp.database.sql;
  });

  afterAll(async () => {
    await api?.close();
  });

  /** GET the summary through the app; a 200 must fit the contract, any status must be one the contract lists. */
  async function getSummary(runId: string): Promise<{ status: number; body: any; text: string }> {
    const res = await api.app.request(`/v1/runs/${runId}/summary`, { headers: { Authorization: `Bearer ${api.token}` } });
    const text = await res.text();
    const documented = summaryRoute.responses[res.status as keyof typeof summaryRoute.responses];
    expect(documented, `${res.status} is not in the contract: ${text}`).toBeDefined();
    const body = JSON.parse(text);
    const parsed = (documented!.content['application/json'].schema as any).safeParse(body);
    expect(parsed.success, `${res.status}: ${parsed.error?.message}`).toBe(true);
    return { status: res.status, body, text };
  }

  /** A finished run (the roll-up never touches it) with `total` children, inserted by the caller. */
  const insertRun = (id: string, total: number, status = 'failed') => sql`
    insert into runs (id, status, command, timeout_ms, targets, strategy, total, created_at, started_at, finished_at)
    values (${id}, ${status}, 'x', 60000, '{"selector":"env=big"}'::jsonb, ${JSON.stringify({ maxConcurrency: total, maxErrors: null, canary: null })}::jsonb, ${total},
            now(), now(), now())`;

  /** One child with its chunks stored as the log sink stores them (output_bytes counted in the same statement). */
  async function insertChild(runId: string, index: number, status: string, chunks: Buffer[], exitCode: number | null = 0): Promise<string> {
    const id = `job_${runId.slice(4, 14)}${String(index).padStart(10, '0')}`;
    await sql`
      insert into jobs (id, status, command, target, timeout_ms, run_id, run_index, target_name, target_kind, exit_code)
      values (${id}, ${status}, 'x', '{"type":"agent","agent":"agt_x"}'::jsonb, 60000, ${runId}, ${index}, ${`vm-${index}`}, 'agent', ${exitCode})`;
    if (chunks.length > 0) await insertOutputBatch(sql, chunks.map((data, seq) => ({ jobId: id, attempt: 1, seq, stream: 1 as const, data })));
    return id;
  }

  const storedHash = async (jobId: string) => (await sql<{ h: string | null }[]>`select encode(output_sha256, 'hex') as h from jobs where id = ${jobId}`)[0]!.h;

  it('hashes the bytes of /logs whatever their chunks: one write or three, both streams, over many chunks', async () => {
    const RUN = runId('chunks');
    await insertRun(RUN, 4);
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251; // 5 chunks of 64 KiB, not one value repeated
    const chunked = (b: Buffer, size: number) => Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));
    const a = await insertChild(RUN, 0, 'succeeded', [Buffer.from('abc\n')]);
    const b = await insertChild(RUN, 1, 'succeeded', [Buffer.from('a'), Buffer.from('bc'), Buffer.from('\n')]);
    const c = await insertChild(RUN, 2, 'succeeded', chunked(big, 65_536));
    const d = await insertChild(RUN, 3, 'succeeded', chunked(big, 1_000)); // 300 chunks: several round trips
    // c's chunks on both streams: the hash follows seq order, as /logs does.
    await sql`update job_output set stream = 2 where job_id = ${c} and seq % 2 = 1`;

    const res = await getSummary(RUN);
    expect(res.status, res.text).toBe(200);
    expect(res.body.groups[0].outputs.map((o: any) => [o.hash, o.bytes, o.count, o.jobIds])).toEqual([
      // Two children each: the tie goes to the group whose first child comes first.
      [sha('abc\n'), 4, 2, [a, b]],
      [sha(big), big.length, 2, [c, d]],
    ]);
    for (const [id, bytes] of [[a, 'abc\n'], [b, 'abc\n'], [c, big], [d, big]] as const) {
      const logs = await api.app.request(`/v1/jobs/${id}/logs`, { headers: { Authorization: `Bearer ${api.token}` } });
      expect(sha(Buffer.from(await logs.arrayBuffer()))).toBe(sha(bytes));
      expect(await storedHash(id)).toBe(sha(bytes));
    }
  });

  it('reads a final child once: the next summary uses the kept hash; a chunk stored later clears it and the next summary counts it', async () => {
    const RUN = runId('once');
    await insertRun(RUN, 1);
    const id = await insertChild(RUN, 0, 'succeeded', [Buffer.from('one\n')]);
    expect((await getSummary(RUN)).body.groups[0].outputs[0].hash).toBe(sha('one\n'));
    expect(await storedHash(id)).toBe(sha('one\n'));

    // The bytes change behind the log sink's back: the summary does not read them again.
    await sql`update job_output set data = ${Buffer.from('two\n')} where job_id = ${id}`;
    expect((await getSummary(RUN)).body.groups[0].outputs[0].hash).toBe(sha('one\n'));

    // A chunk stored through the log sink (say a late retransmit) makes the kept hash stale: it is cleared, and recomputed.
    await insertOutputBatch(sql, [{ jobId: id, attempt: 1, seq: 1, stream: 2, data: Buffer.from('three\n') }]);
    expect(await storedHash(id)).toBeNull();
    const again = (await getSummary(RUN)).body.groups[0].outputs[0];
    expect([again.hash, again.bytes]).toEqual([sha('two\nthree\n'), 10]);
    expect(await storedHash(id)).toBe(sha('two\nthree\n'));
  });

  it('groups children not final by status alone, hash null, and never hashes them; a hash is kept only for the bytes counted', async () => {
    const RUN = runId('live');
    await insertRun(RUN, 5, 'running');
    const running = [await insertChild(RUN, 0, 'running', [Buffer.from('a\n')], null), await insertChild(RUN, 1, 'running', [Buffer.from('b\n')], null)];
    const queued = await insertChild(RUN, 2, 'queued', [], null);
    const done = await insertChild(RUN, 3, 'failed', [Buffer.from('boom\n')], 2);
    // Its counted bytes are not its stored bytes (a chunk landing while the summary read): no hash is kept for it.
    const moving = await insertChild(RUN, 4, 'failed', [Buffer.from('x\n')], 2);
    await sql`update jobs set output_bytes = output_bytes + 1 where id = ${moving}`;

    const res = await getSummary(RUN);
    expect(res.status, res.text).toBe(200);
    const nulls = { bytes: null, sample: null, sampleBase64: null };
    expect(res.body.groups.map((g: any) => [g.status, g.exitCode, g.count, g.outputs.map((o: any) => [o.hash, o.bytes, o.sample, o.sampleBase64, o.jobIds])])).toEqual([
      ['running', null, 2, [[null, null, null, null, running]]],
      ['failed', 2, 2, [[sha('boom\n'), 5, 'boom\n', Buffer.from('boom\n').toString('base64'), [done]], [null, null, null, null, [moving]]]],
      ['queued', null, 1, [[null, null, null, null, [queued]]]],
    ]);
    expect(res.body.groups[0].outputs[0]).toMatchObject(nulls);
    expect(await Promise.all([...running, queued, moving].map(storedHash))).toEqual([null, null, null, null]);
  });

  it('10,000 children with 10,000 distinct outputs: 100 output groups listed, the rest counted, a small answer; the second answer reads no output', async () => {
    const RUN = runId('distinct');
    const N = 10_000;
    await insertRun(RUN, N, 'succeeded');
    await sql`
      insert into jobs (id, status, command, target, timeout_ms, run_id, run_index, target_name, target_kind, exit_code, output_bytes)
      select 'job_distinct' || lpad(g::text, 12, '0'), 'succeeded', 'x', '{"type":"agent","agent":"agt_x"}'::jsonb, 60000, ${RUN}, g,
             'vm-' || lpad(g::text, 5, '0'), 'agent', 0, octet_length('line ' || g || chr(10))
      from generate_series(0, ${N - 1}) g`;
    await sql`
      insert into job_output (job_id, seq, stream, data)
      select 'job_distinct' || lpad(g::text, 12, '0'), 0, 1, convert_to('line ' || g || chr(10), 'UTF8') from generate_series(0, ${N - 1}) g`;

    const res = await getSummary(RUN);
    expect(res.status, res.text).toBe(200);
    const [group] = res.body.groups;
    expect([res.body.groups.length, group.count, group.outputs.length, group.otherOutputs, res.body.otherGroups]).toEqual([1, N, 100, { groups: N - 100, count: N - 100 }, { groups: 0, count: 0 }]);
    // All of size 1: in run order.
    expect(group.outputs.slice(0, 2).map((o: any) => [o.hash, o.sample, o.targets])).toEqual([
      [sha('line 0\n'), 'line 0\n', ['vm-00000']],
      [sha('line 1\n'), 'line 1\n', ['vm-00001']],
    ]);
    expect(res.text.length).toBeLessThan(64 * 1024);
    const [hashed] = await sql<{ n: number }[]>`select count(*)::int as n from jobs where run_id = ${RUN} and output_sha256 = sha256(convert_to('line ' || run_index || chr(10), 'UTF8'))`;
    expect(hashed!.n).toBe(N);

    // The second answer does not read the outputs again: bytes changed behind the log sink's back
    // show in the samples (read each time, a KiB per listed group) but not in the kept hashes.
    await sql`update job_output set data = convert_to('changed' || chr(10), 'UTF8') where job_id like 'job_distinct%'`;
    const second = await getSummary(RUN);
    expect(second.body.groups[0].outputs.map((o: any) => o.hash)).toEqual(group.outputs.map((o: any) => o.hash));
    expect(second.body.groups[0].outputs[0].sample).toBe('changed\n');
  });

  it('a large group lists its first 100 targets and counts the rest; jobsUrl pages through them all', async () => {
    const RUN = runId('wide');
    const N = 250;
    await insertRun(RUN, N, 'succeeded');
    for (let i = 0; i < N; i++) await insertChild(RUN, i, 'succeeded', [Buffer.from('ok\n')]);
    const { body } = await getSummary(RUN);
    const [output] = body.groups[0].outputs;
    expect([output.count, output.targets.length, output.jobIds.length]).toEqual([N, SUMMARY_TARGETS_LISTED, SUMMARY_TARGETS_LISTED]);
    expect(output.targets.slice(0, 3)).toEqual(['vm-0', 'vm-1', 'vm-2']);
    expect(body.groups[0].jobsUrl).toBe(`/v1/runs/${RUN}/jobs?status=succeeded`);
    const page = await api.app.request(`${body.groups[0].jobsUrl}&limit=1000`, { headers: { Authorization: `Bearer ${api.token}` } });
    expect(((await page.json()) as any).items.length).toBe(N);
  });

  it('200 exit codes with 20 outputs each: 100 result groups listed, 10 outputs in each (1,000 in all), the rest counted', async () => {
    const RUN = runId('codes');
    const CODES = 200;
    const PER = 20;
    await insertRun(RUN, CODES * PER);
    // Exit codes 1..200, 20 children each, each child its own output: equal sizes, so the order is that of each group's first child.
    await sql`
      insert into jobs (id, status, command, target, timeout_ms, run_id, run_index, target_name, target_kind, exit_code, output_bytes)
      select 'job_codes' || lpad(g::text, 15, '0'), 'failed', 'x', '{"type":"agent","agent":"agt_x"}'::jsonb, 60000, ${RUN}, g,
             'vm-' || g, 'agent', 1 + g / ${PER}, octet_length('error ' || g || chr(10))
      from generate_series(0, ${CODES * PER - 1}) g`;
    await sql`
      insert into job_output (job_id, seq, stream, data)
      select 'job_codes' || lpad(g::text, 15, '0'), 0, 2, convert_to('error ' || g || chr(10), 'UTF8') from generate_series(0, ${CODES * PER - 1}) g`;

    const res = await getSummary(RUN);
    expect(res.status, res.text).toBe(200);
    const groups = res.body.groups as any[];
    expect(groups.length).toBe(SUMMARY_RESULT_GROUPS);
    expect(groups.map((g) => g.exitCode)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    for (const g of groups) expect([g.count, g.outputs.length, g.otherOutputs]).toEqual([PER, 10, { groups: PER - 10, count: PER - 10 }]);
    expect(groups.reduce((n, g) => n + g.outputs.length, 0)).toBe(SUMMARY_OUTPUTS_LISTED);
    expect(res.body.otherGroups).toEqual({ groups: CODES - 100, count: (CODES - 100) * PER });
    expect(res.text.length).toBeLessThan(512 * 1024);
  });

  it('a summary that cannot finish in time is 503 summary_timeout (not a 500), and the next one, unhindered, answers', async () => {
    const RUN = runId('slow');
    await insertRun(RUN, 1);
    await insertChild(RUN, 0, 'succeeded', [Buffer.from('slow\n')]);
    const lock = await sql.reserve();
    try {
      await lock`begin`;
      await lock`lock table job_output in access exclusive mode`;
      const started = Date.now();
      await expect(runSummary(api.cp, RUN, { timeLimitMs: 300 })).rejects.toMatchObject({ status: 503, code: 'summary_timeout' });
      expect(Date.now() - started).toBeLessThan(10_000);
      // Through the route (its own limit, 15 s): the contract's 503, with a message that says to retry.
      const res = await getSummary(RUN);
      expect([res.status, res.body.error.code]).toEqual([503, 'summary_timeout']);
      expect(res.body.error.message).toMatch(/retry/);
    } finally {
      await lock`rollback`;
      lock.release();
    }
    expect((await getSummary(RUN)).body.groups[0].outputs[0].hash).toBe(sha('slow\n'));
  }, 60_000);
});
