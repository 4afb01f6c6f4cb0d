/**
 * Issue 10, "Live": GET /v1/runs/{id}/stream. A real API process serves the stream; this file
 * plays the rest of the system on the same database and Redis: it writes children's output through
 * the real log sink and their statuses through the lifecycle's transition(), and stands in for the
 * roll-up (the run's status), so it decides exactly when each byte and status becomes durable. The
 * last describe runs a real run end to end (worker, agents, POST /v1/runs).
 *
 * What a subscriber relies on: every chunk of every child exactly once, in seq order, tagged with
 * its child, its bytes exact; each child's final status after all of its output; `end` last; and
 * after a disconnect anywhere (in a large replay, live), resuming with the last cursor it
 * received gives it exactly what followed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { followRun, streamRunOnce, type RunOutputChunk, type RunReconnect, type StreamTarget } from '@vmo/client';
import type { RunStreamMessage } from '@vmo/shared/api';
import { commonSchema } from '@vmo/shared/config';
import { openControlPlane, type ControlPlane } from '@vmo/shared/control-plane';
import { newId } from '@vmo/shared/ids';
import { resolveRetryPolicy } from '@vmo/shared/domain';
import { releaseDueRetries, transition } from '@vmo/shared/jobs';
import { LogSink } from '@vmo/shared/logsink';
import { beginRunStreamRead, chunkPosition, decodeRunCursor, encodeRunCursor, outputKeysStatement, readRunStream, runQuietStatement, startCursor, type OutputKeysQuery, type RunStreamCursor } from '@vmo/shared/runs';
import { createTestDatabase, openWebSocket, peakRssBytes, seededRandom, TEST_REDIS_URL, TestSystem, waitFor, type TestDatabase } from '@vmo/testkit';

interface Child {
  id: string;
  index: number;
  target: string;
  agentId: string;
  nextSeq: number;
}

/** Each child's output as a subscriber reassembles it, and what else it saw. */
function assemble(messages: RunStreamMessage[]) {
  const byJob = new Map<string, { seqs: number[]; stdout: Buffer[]; stderr: Buffer[]; tags: Set<string>; lastOutputAt: number; statuses: string[]; finalStatusAt: number }>();
  const of = (jobId: string) => {
    let c = byJob.get(jobId);
    if (!c) byJob.set(jobId, (c = { seqs: [], stdout: [], stderr: [], tags: new Set(), lastOutputAt: -1, statuses: [], finalStatusAt: -1 }));
    return c;
  };
  messages.forEach((m, i) => {
    if (m.type === 'output') {
      const c = of(m.jobId);
      c.seqs.push(m.seq);
      (m.stream === 'stdout' ? c.stdout : c.stderr).push(Buffer.from(m.data, 'base64'));
      c.tags.add(`${m.index}:${m.target}`);
      c.lastOutputAt = i;
    } else if (m.type === 'status') {
      const c = of(m.jobId);
      c.statuses.push(m.status);
      c.tags.add(`${m.index}:${m.target}`);
      if (!['queued', 'running'].includes(m.status)) c.finalStatusAt = i;
    }
  });
  return byJob;
}

describe('run stream: replay, live, resume (output and statuses written by the test)', () => {
  let system: TestSystem;
  let cp: ControlPlane & { close(): Promise<void> };
  let sink: LogSink;
  let sql: postgres.Sql;
  let target: StreamTarget;
  let wsBase: string;

  beforeAll(async () => {
    // No worker: nothing else takes these children or rolls these runs up.
    system = await TestSystem.start({ label: 'run_stream', workers: 0 });
    const log = pino({ level: 'silent' });
    cp = await openControlPlane(commonSchema.parse({ VMO_DATABASE_URL: system.databaseUrl, VMO_REDIS_URL: TEST_REDIS_URL, VMO_REDIS_PREFIX: system.env.VMO_REDIS_PREFIX }), log, { dbPoolSize: 6 });
    sink = new LogSink({ sql: cp.database.sql, bus: cp, log });
    sql = cp.database.sql;
    target = { baseUrl: system.apiUrls[0]!, token: system.token };
    wsBase = system.apiUrls[0]!.replace(/^http/, 'ws');
  }, 120_000);

  afterAll(async () => {
    await sink?.close();
    await cp?.close();
    await system?.stop();
  });

  /** A run and its children as submitRun writes them (runs-spec.md), `running`, children queued and released (only a released child starts). */
  async function createRun(names: string[]): Promise<{ runId: string; children: Child[] }> {
    const runId = newId('run');
    const children: Child[] = names.map((name, index) => ({ id: newId('job'), index, target: name, agentId: newId('agt'), nextSeq: 0 }));
    await sql.begin(async (tx) => {
      await tx`
        insert into runs (id, status, command, timeout_ms, targets, strategy, total)
        values (${runId}, 'running', 'echo', 60000, ${JSON.stringify({ agents: names })}::jsonb,
                ${JSON.stringify({ maxConcurrency: names.length, maxErrors: null, canary: null })}::jsonb, ${names.length})`;
      for (const c of children) {
        await tx`
          insert into jobs (id, status, command, target, agent_id, timeout_ms, run_id, run_index, target_name, target_kind, released_at)
          values (${c.id}, 'queued', 'echo', ${JSON.stringify({ type: 'agent', agent: c.agentId })}::jsonb, ${c.agentId}, 60000, ${runId}, ${c.index}, ${c.target}, 'agent', clock_timestamp())`;
      }
    });
    return { runId, children };
  }
  const start = async (c: Child) => expect(await transition(cp, c.id, { kind: 'start', workerId: 'run-stream-test', checkedAgentId: c.agentId })).toBeDefined();
  const exit = async (c: Child, exitCode: number) => expect(await transition(cp, c.id, { kind: 'exit', attempt: 1, exit: { exitCode, signal: null, truncated: false } })).toBeDefined();
  /** Through the log sink, durable when this resolves. */
  const write = (c: Child, data: Buffer, stream: 1 | 2 = 1) => sink.append([{ jobId: c.id, attempt: 1, seq: c.nextSeq++, stream, data }]);
  /** The roll-up's part: the run's status (the trigger stamps status_xid). */
  const setRunStatus = (runId: string, status: string) => sql`update runs set status = ${status}, finished_at = clock_timestamp() where id = ${runId}`;
  const stored = async (c: Child) => {
    const rows = await sql<{ seq: number; stream: number; data: Buffer }[]>`select seq, stream, data from job_output where job_id = ${c.id} order by seq`;
    return { seqs: rows.map((r) => r.seq), stdout: Buffer.concat(rows.filter((r) => r.stream === 1).map((r) => r.data)), stderr: Buffer.concat(rows.filter((r) => r.stream === 2).map((r) => r.data)) };
  };
  /** Every child's bytes, seqs and tags as received equal what Postgres holds; its final status after its output. */
  async function expectExact(children: Child[], messages: RunStreamMessage[]) {
    const got = assemble(messages);
    for (const c of children) {
      const want = await stored(c);
      const have = got.get(c.id);
      expect(have?.seqs ?? [], `child ${c.index} seqs`).toEqual(want.seqs);
      expect(want.seqs).toEqual(want.seqs.map((_, i) => i));
      expect(Buffer.concat(have?.stdout ?? []).equals(want.stdout), `child ${c.index} stdout`).toBe(true);
      expect(Buffer.concat(have?.stderr ?? []).equals(want.stderr), `child ${c.index} stderr`).toBe(true);
      expect([...(have?.tags ?? [])], `child ${c.index} tags`).toEqual([`${c.index}:${c.target}`]);
      // Statuses only move forward: none repeated.
      expect(new Set(have!.statuses).size, `child ${c.index} statuses ${have!.statuses}`).toBe(have!.statuses.length);
      if (have!.finalStatusAt >= 0) expect(have!.finalStatusAt, `child ${c.index}: its final status after its output`).toBeGreaterThan(have!.lastOutputAt);
    }
  }

  /** One connection, collecting until it closes; `onMessage` may close it. */
  async function session(runId: string, opts: { after?: string; output?: boolean; onMessage?: (msg: RunStreamMessage, ws: WebSocket, n: number) => void } = {}) {
    const messages: RunStreamMessage[] = [];
    const close = await streamRunOnce(target, runId, {
      after: opts.after,
      output: opts.output,
      onMessage: (msg, ws) => {
        messages.push(msg);
        opts.onMessage?.(msg, ws as WebSocket, messages.length);
      },
    });
    return { messages, closeCode: close.code };
  }

  it('replays what is stored, then streams live: output tagged and exact (binary too), statuses, progress, end, close 1000', async () => {
    const { runId, children } = await createRun(['web-a', 'web-b', 'db@prod']);
    const [a, b, c] = children as [Child, Child, Child];
    await start(a);
    await start(b);
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await write(a, Buffer.from('hello from a\n'));
    await write(a, binary, 2);
    await write(a, randomBytes(100_000));
    await write(b, Buffer.from('b0\n'));

    const messages: RunStreamMessage[] = [];
    let closeCode = 0;
    const followed = followRun(target, runId, { onMessage: (m) => messages.push(m), onClose: (cl) => (closeCode = cl.code), maxResumes: 0 });
    // The replay: a's chunks, b's, then every child's status, then progress.
    const replay = await waitFor('the replay', () => {
      const i = messages.findIndex((m) => m.type === 'progress');
      return i >= 0 ? messages.slice(0, i + 1) : undefined;
    });
    expect(replay.map((m) => (m.type === 'output' ? `output ${m.index}/${m.seq}` : m.type === 'status' ? `status ${m.index} ${m.status}` : m.type))).toEqual([
      'output 0/0',
      'output 0/1',
      'output 0/2',
      'output 1/0',
      'status 0 running',
      'status 1 running',
      'status 2 queued',
      'progress',
    ]);
    expect(replay[replay.length - 1]).toMatchObject({ type: 'progress', status: 'running', done: 0, total: 3, counts: { running: 2, queued: 1, succeeded: 0 }, error: null });
    expect(replay[0]).toMatchObject({ type: 'output', jobId: a.id, index: 0, target: 'web-a', stream: 'stdout' });
    expect(replay[1]).toMatchObject({ stream: 'stderr', data: binary.toString('base64') });

    // Live.
    for (let i = 1; i <= 3; i++) await write(b, Buffer.from(`b${i}\n`));
    await start(c);
    await write(c, randomBytes(5000));
    await write(c, Buffer.from([0, 255, 0, 10, 13]), 2);
    await exit(a, 0);
    await exit(b, 3);
    await waitFor('b failed on the stream', () => messages.some((m) => m.type === 'status' && m.jobId === b.id && m.status === 'failed'));
    expect(messages.some((m) => m.type === 'end')).toBe(false); // the run is not final yet
    await exit(c, 0);
    await setRunStatus(runId, 'failed');

    const end = await followed;
    expect(end).toMatchObject({ type: 'end', status: 'failed', error: null });
    expect(messages[messages.length - 1]).toEqual(end);
    expect(closeCode).toBe(1000);
    await expectExact(children, messages);
    expect(assemble(messages).get(a.id)!.statuses).toEqual(['running', 'succeeded']);
    expect(assemble(messages).get(c.id)!.statuses).toEqual(['queued', 'running', 'succeeded']);
    const progress = messages.filter((m) => m.type === 'progress');
    expect(progress[progress.length - 1]).toMatchObject({ status: 'failed', done: 3, total: 3, counts: { succeeded: 2, failed: 1, running: 0 } });
    const bStatus = messages.find((m) => m.type === 'status' && m.jobId === b.id && m.status === 'failed');
    expect(bStatus).toMatchObject({ exitCode: 3, signal: null, error: null, target: 'web-b', index: 1 });

    // Replayed whole after the end: the same frames (cursors aside), then end and 1000.
    const again = await session(runId);
    expect(again.closeCode).toBe(1000);
    await expectExact(children, again.messages);
    expect(again.messages[again.messages.length - 1]).toMatchObject({ type: 'end', status: 'failed' });
    // And from the end's cursor: only the end again.
    const tail = await session(runId, { after: end.cursor });
    expect(tail.messages.map((m) => m.type)).toEqual(['end']);
  });

  it('no gap and no duplicate across disconnects in the middle of a large replay and during live output', async () => {
    const random = seededRandom(4242);
    const { runId, children } = await createRun(['n1', 'n2', 'n3', 'n4']);
    for (const c of children) await start(c);
    // ~2.5 MiB per child in chunks of up to 64 KiB (the largest a producer stores): a replay of many 1 MiB pages.
    const chunk = () => randomBytes(1 + Math.floor(random() * 64 * 1024));
    for (let round = 0; round < 60; round++) {
      await Promise.all(children.map((c) => write(c, chunk(), random() < 0.2 ? 2 : 1)));
    }

    const received: RunStreamMessage[] = [];
    let after: string | undefined;
    let ended = false;
    const resumedFrom: string[] = [];
    let liveWriter: Promise<void> | undefined;
    const writeLive = async () => {
      // Many small chunks from every child at once: batches of the sink interleave and commit concurrently.
      for (let round = 0; round < 120; round++) {
        await Promise.all(children.map((c) => write(c, randomBytes(1 + Math.floor(random() * 4096)), random() < 0.3 ? 2 : 1)));
      }
      for (const c of children) await exit(c, c.index === 2 ? 1 : 0);
      await setRunStatus(runId, 'failed');
    };

    for (let n = 0; !ended; n++) {
      if (n > 60) throw new Error('did not reach the end in 60 sessions');
      // Early sessions leave after a few frames (the first inside the first page of the replay);
      // later ones follow to the end. Half leave cleanly, half drop the connection.
      const leaveAfter = n === 0 ? 7 : n < 10 ? 1 + Math.floor(random() * 40) : Infinity;
      const abrupt = random() < 0.5;
      if (after !== undefined) resumedFrom.push(decodeRunCursor(after, { runId, output: true }).position.phase);
      const s = await session(runId, {
        after,
        onMessage: (msg, ws, count) => {
          // Live output starts once the replay is over (its first progress).
          if (msg.type === 'progress') liveWriter ??= writeLive();
          if (count === leaveAfter && ws.readyState === ws.OPEN) abrupt ? ws.terminate() : ws.close(1000);
        },
      });
      // Everything received counts, even what arrived after leaving; its cursor too.
      received.push(...s.messages);
      if (s.messages.length > 0) after = s.messages[s.messages.length - 1]!.cursor;
      ended = s.messages.some((m) => m.type === 'end');
    }
    await liveWriter;
    expect(resumedFrom).toContain('output'); // resumed inside a window's output (a replay page)
    expect(received.filter((m) => m.type === 'end')).toHaveLength(1);
    expect(received[received.length - 1]).toMatchObject({ type: 'end', status: 'failed' });
    await expectExact(children, received);
    for (const c of children) expect(assemble(received).get(c.id)!.statuses[assemble(received).get(c.id)!.statuses.length - 1]).toBe(c.index === 2 ? 'failed' : 'succeeded');
  });

  it("keeps a child's chunks in seq order when a later one commits first, across a resume while one is held", async () => {
    const { runId, children } = await createRun(['solo']);
    const [c] = children as [Child];
    await start(c);
    await write(c, Buffer.from('zero\n'));
    // Two batches of the same child in flight, the second committing first (the sink runs two at once).
    let commitFirst!: () => void;
    let inserted!: () => void;
    const insertedP = new Promise<void>((r) => (inserted = r));
    const first = sql.begin(async (tx) => {
      await tx`insert into job_output (job_id, seq, stream, data) values (${c.id}, 1, 1, ${Buffer.from('one\n')})`;
      inserted();
      await new Promise<void>((r) => (commitFirst = r));
    });
    await insertedP;
    await sql`insert into job_output (job_id, seq, stream, data) values (${c.id}, 2, 1, ${Buffer.from('two\n')})`;

    // A subscriber sees seq 0 and a window holding 2 (1 is not committed): it must not get 2 yet.
    const early = await session(runId, {
      onMessage: (msg, ws) => {
        if (msg.type === 'progress') ws.close(1000);
      },
    });
    expect(early.messages.filter((m) => m.type === 'output').map((m) => (m as { seq: number }).seq)).toEqual([0]);
    const cursor = early.messages[early.messages.length - 1]!.cursor;
    expect(decodeRunCursor(cursor, { runId, output: true }).position).toMatchObject({ phase: 'between', holds: [[0, chunkPosition(1, 1)]] });

    // One more subscriber stays on through the commit; the first resumes after it.
    const live: RunStreamMessage[] = [];
    const liveDone = session(runId, { onMessage: (m) => live.push(m) });
    await waitFor('the live subscriber past its replay', () => live.some((m) => m.type === 'progress'));
    commitFirst();
    await first;
    c.nextSeq = 3;
    await write(c, Buffer.from('three\n'));
    await exit(c, 0);
    await setRunStatus(runId, 'succeeded');
    const resumed = await session(runId, { after: cursor });
    expect(resumed.messages.filter((m) => m.type === 'output').map((m) => (m as { seq: number }).seq)).toEqual([1, 2, 3]);
    await expectExact(children, [...early.messages, ...resumed.messages]);
    const stayed = await liveDone;
    expect(stayed.closeCode).toBe(1000);
    await expectExact(children, stayed.messages);
    expect(Buffer.concat(stayed.messages.flatMap((m) => (m.type === 'output' ? [Buffer.from(m.data, 'base64')] : []))).toString()).toBe('zero\none\ntwo\nthree\n');
  });

  it("follows a retried child through its attempts: the next attempt's seqs start at 0 again and none of them is taken for a chunk already sent", async () => {
    const { runId, children } = await createRun(['flaky']);
    const [c] = children as [Child];
    const policy = resolveRetryPolicy({ max: 2, backoff: { type: 'fixed', delayMs: 0 }, on: { exitCodes: 'nonzero' } });
    await sql`update jobs set retry = ${JSON.stringify(policy)}::jsonb where id = ${c.id}`;
    await start(c);
    // One subscriber stays on throughout (its connection remembers where the child is: the case
    // that once skipped attempt 2's seqs 0..2); another has all of attempt 1 and resumes later.
    const live: RunStreamMessage[] = [];
    const liveDone = session(runId, { onMessage: (m) => live.push(m) });
    for (const line of ['a1-0\n', 'a1-1\n', 'a1-2\n']) await write(c, Buffer.from(line));
    await waitFor('attempt 1 seen live', () => live.filter((m) => m.type === 'output').length === 3);
    const early = await session(runId, { onMessage: (msg, ws) => msg.type === 'progress' && ws.close(1000) });
    const cursor = early.messages[early.messages.length - 1]!.cursor;
    // Attempt 1 fails and is retried; attempt 2 writes seqs 0..4 (past where attempt 1 stopped) and succeeds.
    expect(await transition(cp, c.id, { kind: 'exit', attempt: 1, exit: { exitCode: 1, signal: null, truncated: false } })).toBeDefined();
    await waitFor('the retry released', async () => (await releaseDueRetries(cp)) > 0 || (await sql`select 1 from jobs where id = ${c.id} and released_at is not null`).length > 0);
    await start(c);
    const second = ['a2-0\n', 'a2-1\n', 'a2-2\n', 'a2-3\n', 'a2-4\n'];
    for (const [seq, line] of second.entries()) await sink.append([{ jobId: c.id, attempt: 2, seq, stream: 1, data: Buffer.from(line) }]);
    expect(await transition(cp, c.id, { kind: 'exit', attempt: 2, exit: { exitCode: 0, signal: null, truncated: false } })).toBeDefined();
    await setRunStatus(runId, 'succeeded');
    const resumed = await session(runId, { after: cursor });
    const stayed = await liveDone;
    expect(resumed.closeCode).toBe(1000);
    expect(stayed.closeCode).toBe(1000);
    const outputs = (msgs: RunStreamMessage[]) => msgs.flatMap((m) => (m.type === 'output' ? [[m.attempt, m.seq, Buffer.from(m.data, 'base64').toString()]] : []));
    const first = [[1, 0, 'a1-0\n'], [1, 1, 'a1-1\n'], [1, 2, 'a1-2\n']];
    expect(outputs(early.messages)).toEqual(first);
    expect(outputs(resumed.messages)).toEqual(second.map((line, seq) => [2, seq, line]));
    expect(outputs(stayed.messages)).toEqual([...first, ...second.map((line, seq) => [2, seq, line])]);
    // A subscriber from the start gets both attempts, in the order they ran, each chunk once.
    const whole = await session(runId);
    expect(outputs(whole.messages).map((o) => o[2]).join('')).toBe('a1-0\na1-1\na1-2\n' + second.join(''));
    expect(whole.messages.filter((m) => m.type === 'status' && m.status === 'succeeded')).toHaveLength(1);
  });

  it('paces a subscriber that stops reading: the API reads no further than its buffer (memory does not grow with the replay), then it catches up exactly', async () => {
    const MiB = 1024 * 1024;
    // A node of its own, for a clean memory high-water mark, with the smallest subscriber buffer.
    const api = await system.startApi({ VMO_SUBSCRIBER_BUFFER_BYTES: String(MiB) });
    const url = system.apiUrls[system.apis.indexOf(api)]!;
    const { runId, children } = await createRun(['big-1', 'big-2', 'big-3', 'big-4']);
    for (const c of children) await start(c);
    // 48 MiB stored: an API that read it all for one subscriber would hold ~64 MiB of frames.
    for (let round = 0; round < 192; round++) await Promise.all(children.map((c) => write(c, randomBytes(64 * 1024))));
    // Warm the node up (its first stream's code paths and pools) before the baseline.
    const warm = await createRun(['warm-up']);
    await start(warm.children[0]!);
    await write(warm.children[0]!, randomBytes(256 * 1024));
    await streamRunOnce({ baseUrl: url, token: system.token }, warm.runId, { onMessage: (m, w) => m.type === 'progress' && w.close(1000) });
    const before = peakRssBytes(api.pid);

    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/runs/${runId}/stream`, ['vmo.v1'], { headers: { authorization: `Bearer ${system.token}` } });
    const messages: RunStreamMessage[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as RunStreamMessage));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause(); // stops reading: the kernel's buffers fill, then the server's
    // A measurement window: long enough for an unpaced server to read the whole replay.
    const until = Date.now() + 4000;
    await waitFor('the measurement window', () => Date.now() > until, 10_000, 200);
    const grown = peakRssBytes(api.pid) - before;
    const receivedWhilePaused = messages.length;
    socket.resume();

    await waitFor('the whole replay', () => messages.filter((m) => m.type === 'output').length >= 4 * 192, 60_000, 50);
    for (const c of children) await exit(c, 0);
    await setRunStatus(runId, 'succeeded');
    expect(await closed).toBe(1000);
    console.log(`[paced] API peak RSS grew ${(grown / MiB).toFixed(1)} MiB while a subscriber of a 48 MiB replay did not read (${receivedWhilePaused} frames had reached it)`);
    expect(grown).toBeLessThan(40 * MiB); // unpaced: over 100 MiB
    await expectExact(children, messages);
    expect(messages[messages.length - 1]).toMatchObject({ type: 'end', status: 'succeeded' });
    await api.stop();
  }, 120_000);

  it('?output=false: progress and statuses only, resumable with its own cursor', async () => {
    const { runId, children } = await createRun(['q1', 'q2']);
    const [a, b] = children as [Child, Child];
    await start(a);
    await write(a, Buffer.from('not for this subscriber\n'));
    const first = await session(runId, {
      output: false,
      onMessage: (msg, ws) => {
        if (msg.type === 'progress') ws.close(1000);
      },
    });
    expect(first.messages.map((m) => m.type)).toEqual(['status', 'status', 'progress']);
    const cursor = first.messages[first.messages.length - 1]!.cursor;
    await start(b);
    await write(b, Buffer.from('nor this\n'));
    await exit(a, 0);
    await exit(b, 0);
    await setRunStatus(runId, 'succeeded');
    const rest = await session(runId, { after: cursor, output: false });
    expect(rest.closeCode).toBe(1000);
    expect(rest.messages.map((m) => (m.type === 'status' ? `${m.index} ${m.status}` : m.type))).toEqual(['0 succeeded', '1 succeeded', 'progress', 'end']);
    expect(rest.messages.some((m) => m.type === 'output')).toBe(false);

    // A cursor is for its mode: resuming output from a cursor that stands for none would skip bytes.
    const mixed = await openWebSocket(`${wsBase}/v1/runs/${runId}/stream?after=${cursor}`, { token: system.token });
    expect(mixed.kind === 'refused' && mixed.status).toBe(400);
    expect(mixed.kind === 'refused' && JSON.parse(mixed.body).error).toMatchObject({ code: 'validation_failed', details: { field: 'after' } });
  });

  it('is in the OpenAPI document beside the job stream: 101, ?after= and ?output=, the close codes, the frames schema', async () => {
    const doc = (await system.client.request('GET', '/v1/openapi.json')).body as any;
    const op = doc.paths['/v1/runs/{id}/stream'].get;
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['101', '400', '401', '403', '404', '503']));
    expect(op.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort()).toEqual(['path:id', 'query:after', 'query:output']);
    for (const text of ['vmo.v1', 'bearer.<token>', '`1000`', '`1008`', '`1009`', '`1012`', '`4008`', '`4404`', '?after=<cursor>', '?output=false']) expect(op.description).toContain(text);
    const frames = doc.components.schemas.RunStreamMessage;
    expect(frames.oneOf.map((f: any) => f.properties.type.enum[0]).sort()).toEqual(['end', 'output', 'progress', 'status']);
    for (const f of frames.oneOf) expect(f.required).toContain('cursor');
  });

  it('refuses the upgrade: a bad cursor or ?output= 400, an unknown run 404, and authenticates as the job stream', async () => {
    const { runId } = await createRun(['auth-1']);
    const other = await createRun(['auth-2']);
    const agentToken = (await system.client.request('POST', '/v1/agents', { name: 'run-stream-auth-agent' })).body.token as string;
    const url = (id: string, query = '') => `${wsBase}/v1/runs/${id}/stream${query}`;
    const garbled = Buffer.from('{"v":1}').toString('base64url');
    const foreign = encodeRunCursor(startCursor(other.runId, true));

    const cases: [string, string, Parameters<typeof openWebSocket>[1], number, string?][] = [
      ['a cursor that is not one', url(runId, `?after=${garbled}`), { token: system.token }, 400, 'after'],
      ['a cursor that is not base64url', url(runId, '?after=%2B%2F'), { token: system.token }, 400, 'after'],
      ["another run's cursor", url(runId, `?after=${foreign}`), { token: system.token }, 400, 'after'],
      ['a bad ?output=', url(runId, '?output=yes'), { token: system.token }, 400, 'output'],
      ['no token', url(runId), {}, 401],
      ['wrong token', url(runId), { token: 'vmo_adm_wrongwrongwrongwrong' }, 401],
      ['wrong subprotocol token', url(runId), { protocols: ['vmo.v1', 'bearer.vmo_adm_nope'] }, 401],
      ['a bearer subprotocol without vmo.v1', url(runId), { protocols: [`bearer.${system.token}`] }, 400],
      ['agent token', url(runId), { token: agentToken }, 403],
      ['unknown run', url('run_00000000000000000000'), { token: system.token }, 404],
      ['malformed run id', url('nope'), { token: system.token }, 404],
    ];
    for (const [what, u, opts, status, field] of cases) {
      const res = await openWebSocket(u, opts);
      expect(res.kind, what).toBe('refused');
      if (res.kind !== 'refused') continue;
      expect(res.status, what).toBe(status);
      const error = JSON.parse(res.body).error;
      expect(error.code, what).toEqual(expect.any(String));
      if (field) expect(error.details, what).toEqual({ field });
    }

    // A browser: the subprotocols, and the server selects vmo.v1, never the token.
    const opened = await openWebSocket(url(runId), { protocols: [`bearer.${system.token}`, 'vmo.v1'] });
    expect(opened.kind).toBe('open');
    if (opened.kind !== 'open') return;
    expect(opened.protocol).toBe('vmo.v1');
    await waitFor('the replay', () => opened.texts.some((t) => JSON.parse(t).type === 'progress'));
    // Only pings may be sent: anything else closes 1008.
    opened.ws.send(JSON.stringify({ type: 'ping' }));
    opened.ws.send('hello');
    expect((await opened.closed).code).toBe(1008);
  });

  it('refuses a forged cursor naming sizes the run does not have (a child index near 2^31, more holds than children, a long in-progress list) with 400, and the API stays up', async () => {
    const { runId, children } = await createRun(['forged-1', 'forged-2', 'forged-3']);
    await start(children[0]!);
    await write(children[0]!, Buffer.from('still here\n'));
    const b64 = (v: object) => Buffer.from(JSON.stringify({ v: 1, r: runId, o: 1, s: '1:1:', ...v })).toString('base64url');
    const NEAR = 2 ** 31 - 2;
    const cases: [string, string][] = [
      // Each of these once made the reader allocate arrays sized by the index: the process died.
      ['a hold on child 2^31 - 2', b64({ h: [[NEAR, 0]] })],
      ['a position in child 2^31 - 2', b64({ u: '5:5:', p: [NEAR, 0] })],
      ['a hold found before child 2^31 - 2', b64({ u: '5:5:', p: [0, 0], g: [[NEAR, 0]] })],
      ['statuses sent up to child 2^31 - 2', b64({ u: '5:5:', q: NEAR })],
      ['a hold on the child after the last', b64({ h: [[3, 0]] })],
      ['statuses sent up to the child after the last', b64({ u: '5:5:', q: 3 })],
      ['1,200 holds on a run of 3', b64({ h: Array.from({ length: 1200 }, (_, i) => [i, 0]) })],
      ['a snapshot listing 2,100 transactions in progress', b64({ s: `1000:4000:${Array.from({ length: 2100 }, (_, i) => 1000 + i).join(',')}` })],
      ['a seq past a 32-bit integer', b64({ u: '5:5:', p: [0, 2 ** 31] })],
    ];
    const answers: (number | string)[] = [];
    for (const [what, after] of cases) {
      expect(after.length, `${what}: short enough to be read`).toBeLessThanOrEqual(16_384);
      const res = await openWebSocket(`${wsBase}/v1/runs/${runId}/stream?after=${after}`, { token: system.token }).catch((err: Error) => ({ kind: 'error' as const, message: err.message }));
      if (res.kind === 'open') res.ws.terminate();
      answers.push(res.kind === 'refused' ? res.status : res.kind);
      if (res.kind !== 'refused') continue;
      const error = JSON.parse(res.body).error;
      expect(error, what).toMatchObject({ code: 'validation_failed', details: { field: 'after' } });
      expect(error.message, what).toMatch(/^after: /);
    }
    // The same process answers, and streams the run as before.
    expect((await system.client.request('GET', '/health')).status).toBe(200);
    expect(answers).toEqual(cases.map(() => 400));
    const s = await session(runId, { onMessage: (m, ws) => m.type === 'progress' && ws.close(1000) });
    expect(s.messages.find((m) => m.type === 'output')).toMatchObject({ index: 0, data: Buffer.from('still here\n').toString('base64') });
  });
});

describe('run stream: the per-poll read on a run of 1,000 children', () => {
  let testDb: TestDatabase;
  let sql: postgres.Sql;
  const RUN = 'run_' + 'p'.repeat(20);
  const CHUNKS = 200;

  beforeAll(async () => {
    testDb = await createTestDatabase('run_stream_plan');
    sql = postgres(testDb.url, { max: 1, onnotice: () => {} });
    // Other work in the table (30,000 single jobs with output) and the run: 1,000 children, the
    // first 300 done, the next 100 running, each of those with 200 chunks; the rest queued and held.
    await sql`
      insert into jobs (id, status, command, target, timeout_ms)
      select 'job_s' || lpad(g::text, 19, '0'), 'succeeded', 'true', '{"type":"local"}'::jsonb, 1000 from generate_series(1, 30000) g`;
    await sql`insert into job_output (job_id, seq, stream, data) select 'job_s' || lpad(g::text, 19, '0'), s, 1, '\\x00'::bytea from generate_series(1, 30000) g, generate_series(0, 4) s`;
    await sql`insert into runs (id, status, command, timeout_ms, targets, strategy, total) values (${RUN}, 'running', 'true', 1000, '{}'::jsonb, '{}'::jsonb, 1000)`;
    await sql`
      insert into jobs (id, status, command, target, timeout_ms, run_id, run_index, target_name, target_kind, released_at)
      select 'job_r' || lpad(g::text, 19, '0'), case when g < 300 then 'succeeded' when g < 400 then 'running' else 'queued' end,
             'true', '{"type":"local"}'::jsonb, 1000, ${RUN}, g, 'agent-' || g, 'agent', case when g < 400 then now() end
      from generate_series(0, 999) g`;
    await sql`insert into job_output (job_id, seq, stream, data) select 'job_r' || lpad(g::text, 19, '0'), s, 1, '\\x0a'::bytea from generate_series(0, 399) g, generate_series(0, ${CHUNKS - 1}) s`;
    await sql`analyze`;
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await testDb?.drop();
  });

  /** The plan of the page read as the stream runs it (its transaction's settings), with the rows each node produced. */
  const plan = (q: (s: string) => Omit<OutputKeysQuery, 'runId' | 'limit'>) =>
    sql.begin('isolation level repeatable read read only', async (tx) => {
      const s = await beginRunStreamRead(tx);
      const [row] = await tx`explain (analyze, format json) ${outputKeysStatement(tx, { runId: RUN, limit: 2001, ...q(s) })}`;
      return JSON.stringify(row!['QUERY PLAN']);
    });
  const expectIndexedPage = (p: string) => {
    expect(p).toContain('"Index Name":"jobs_run_idx"');
    expect(p).toContain('"Index Name":"job_output_job_id_attempt_seq_pk"');
    expect(p).not.toContain('Seq Scan');
    expect(p).not.toContain('Bitmap');
    // Ordered by child from the index, then by seq within each: no sort of everything.
    expect(p).not.toContain('"Node Type":"Sort"');
  };

  it('a live poll: jobs_run_idx, the job_output primary key from where each child is, no sequential scan', async () => {
    // The previous window's snapshot is now; 100 running children known to be at their last seq.
    const p = await plan((s) => ({ snapshot: s, upper: s, children: Array.from({ length: 100 }, (_, i) => ({ index: 300 + i, from: chunkPosition(1, CHUNKS), held: null })), fromIndex: -1, fromPosition: 0 }));
    expectIndexedPage(p);
    // Only the 100 children that may still write were looked into (not the done or the held ones).
    expect(p).toMatch(/"Node Type":"Index Scan"[^{}]*"Index Name":"jobs_run_idx"[^{}]*"Actual Rows":100,/);
    // Each from its last seq: no chunk it was sent is read again.
    const probe = /"Index Name":"job_output_job_id_attempt_seq_pk"((?:(?!"Node Type").)*)/.exec(p)?.[1] ?? '';
    expect(probe).toContain('"Actual Rows":0,');
    expect(probe).toContain('"Rows Removed by Filter":0');
  });

  it("a connection that knows where 40,000 children are reads the list once per poll, also under a generic plan (postgres.js prepares statements)", async () => {
    // Inline, the list's cast ran once per child under a generic plan: ~9 s for this read, against well under 100 ms.
    const children = Array.from({ length: 40_000 }, (_, i) => ({ index: i, from: chunkPosition(1, CHUNKS), held: null }));
    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      const ms = await sql.begin('isolation level repeatable read read only', async (tx) => {
        const s = await beginRunStreamRead(tx);
        await tx`select set_config('plan_cache_mode', ${mode}, true)`;
        const t = performance.now();
        expect(await outputKeysStatement(tx, { runId: RUN, snapshot: s, upper: s, children, fromIndex: -1, fromPosition: 0, limit: 2001 })).toEqual([]);
        return performance.now() - t;
      });
      // A deadline that tells the bug (~9 s) from the fix (well under 100 ms) on a loaded machine:
      // 2.3 s was seen for the fix at load average 40 on two cores.
      expect(ms, mode).toBeLessThan(4000);
    }
  });

  it('an idle poll: one statement of a few seeks in jobs_run_status_idx and a step back per running child, no walk over every child', async () => {
    const { plan, quiet } = await sql.begin('isolation level repeatable read read only', async (tx) => {
      const s = await beginRunStreamRead(tx);
      const [row] = await tx`explain (analyze, format json) ${runQuietStatement(tx, { runId: RUN, snapshot: s, output: true })}`;
      const [answer] = await runQuietStatement(tx, { runId: RUN, snapshot: s, output: true });
      return { plan: JSON.stringify(row!['QUERY PLAN']), quiet: answer };
    });
    expect(quiet).toEqual({ quiet: true });
    expect(plan).not.toContain('jobs_run_idx');
    expect(plan).not.toMatch(/"Node Type":"Seq Scan"[^{}]*"Relation Name":"jobs"/);
    expect(plan).not.toContain('Bitmap');
    // The changed children: none, found without reading any; the running ones: the 100, each one step back in its output.
    expect(plan).toMatch(/"Index Name":"jobs_run_status_idx"[^{}]*"Actual Rows":0,/);
    expect(plan).toMatch(/"Index Name":"jobs_run_status_idx"[^{}]*"Actual Rows":100,/);
    expect(plan).toMatch(/"Scan Direction":"Backward","Index Name":"job_output_job_id_attempt_seq_pk"[^{}]*"Actual Rows":1,"Actual Loops":100/);

    // A child changed (in a transaction rolled back): not quiet, and the running children's output is not looked into.
    const changed = await sql
      .begin(async (tx) => {
        const s = await beginRunStreamRead(tx);
        await tx`update jobs set status = 'canceled' where run_id = ${RUN} and run_index = 999`;
        const [row] = await tx`explain (analyze, format json) ${runQuietStatement(tx, { runId: RUN, snapshot: s, output: true })}`;
        throw Object.assign(new Error('rollback'), { plan: JSON.stringify(row!['QUERY PLAN']) });
      })
      .catch((err: { plan?: string }) => err.plan ?? '');
    expect(changed).toMatch(/"Index Name":"jobs_run_status_idx"[^{}]*"Actual Rows":1,/);
    expect(changed).toMatch(/"Scan Direction":"Backward","Index Name":"job_output_job_id_attempt_seq_pk"[^{}]*"Actual Loops":0/);
  });

  it('an idle poll skips the read only when the window would send nothing: a status, a chunk, the run changing or final each wake it', async () => {
    const run = 'run_' + 'q'.repeat(20);
    const child = (i: number) => 'job_q' + String(i).padStart(19, '0');
    await sql`insert into runs (id, status, command, timeout_ms, targets, strategy, total) values (${run}, 'running', 'true', 1000, '{}'::jsonb, '{}'::jsonb, 3)`;
    await sql`
      insert into jobs (id, status, command, target, timeout_ms, run_id, run_index, target_name, target_kind, released_at)
      select 'job_q' || lpad(g::text, 19, '0'), (array['running', 'queued', 'succeeded'])[g + 1], 'true', '{"type":"local"}'::jsonb, 1000, ${run}, g, 'q-' || g, 'agent', now()
      from generate_series(0, 2) g`;
    await sql`insert into job_output (job_id, seq, stream, data) values (${child(0)}, 0, 1, '\\x0a'), (${child(0)}, 1, 1, '\\x0a'), (${child(2)}, 0, 1, '\\x0a')`;
    const snapshot = async () => (await sql<{ s: string }[]>`select pg_current_snapshot()::text as s`)[0]!.s;
    /** Quiet from `from`, and whether the full window from it sends anything (the read the quiet check stands for). */
    const look = async (from: string, output: boolean) => {
      const [q] = await sql.begin('isolation level repeatable read read only', async (tx) => {
        await beginRunStreamRead(tx);
        return runQuietStatement(tx, { runId: run, snapshot: from, output });
      });
      const quiet = q!.quiet;
      // The full read, from a cursor inside the window (so not through the quiet check).
      const window: RunStreamCursor = output
        ? { runId: run, output, position: { phase: 'output', snapshot: from, holds: [], upper: await snapshot(), at: [-1, -1], nextHolds: [] } }
        : { runId: run, output, position: { phase: 'status', snapshot: from, upper: await snapshot(), nextHolds: [], afterIndex: -1 } };
      const full = await readRunStream(sql, window, new Map());
      return { quiet, sends: full.events.map((e) => e.type) };
    };

    let s = await snapshot();
    expect(await look(s, true)).toEqual({ quiet: true, sends: [] });
    // A running child writes: output, not for ?output=false.
    await sql`insert into job_output (job_id, seq, stream, data) values (${child(0)}, 2, 1, '\\x0a')`;
    expect(await look(s, true)).toEqual({ quiet: false, sends: ['output'] });
    expect(await look(s, false)).toEqual({ quiet: true, sends: [] });
    // A child starts.
    s = await snapshot();
    await sql`update jobs set status = 'running' where id = ${child(1)}`;
    expect(await look(s, false)).toEqual({ quiet: false, sends: ['status', 'progress'] });
    // A child ends (its status; its output was all there before).
    s = await snapshot();
    await sql`update jobs set status = 'failed' where id = ${child(0)}`;
    expect(await look(s, true)).toEqual({ quiet: false, sends: ['status', 'progress'] });
    // The run's status changes.
    s = await snapshot();
    await sql`update runs set status = 'queued' where id = ${run}`;
    expect(await look(s, true)).toEqual({ quiet: false, sends: ['progress'] });
    // Final: every window from a cursor of a final run sends its end.
    await sql`update jobs set status = 'succeeded' where id = ${child(1)}`;
    await sql`update runs set status = 'failed' where id = ${run}`;
    s = await snapshot();
    expect(await look(s, true)).toEqual({ quiet: false, sends: ['end'] });
    // And nothing moved: quiet again, once the run is not final.
    await sql`update runs set status = 'running' where id = ${run}`;
    s = await snapshot();
    expect(await look(s, true)).toEqual({ quiet: true, sends: [] });
  });

  it('a replay page: stops once the page is full instead of reading every chunk of the run', async () => {
    const p = await plan((s) => ({ snapshot: '1:1:', upper: s, children: [], fromIndex: -1, fromPosition: 0 }));
    expectIndexedPage(p);
    expect(p).toContain('"Node Type":"Incremental Sort"');
    const loop = /"Node Type":"Nested Loop"[^{}]*"Actual Rows":(\d+)/.exec(p);
    expect(Number(loop?.[1])).toBeLessThan(2001 + CHUNKS + 1); // the page and at most one child more, of 80,000 chunks
  });
});

describe('run stream: a real run (worker, agents, POST /v1/runs), followed through an API restart', () => {
  let system: TestSystem;
  let scratch: string;
  const AGENTS = ['rs-web-1', 'rs-web-2', 'rs-web-3'];

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'run_stream_e2e' });
    scratch = mkdtempSync(join(tmpdir(), 'vmo-run-stream-'));
    await Promise.all(AGENTS.map((name) => system.startAgent(name, { labels: { role: 'rs-web' } })));
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('followRun() gets every child\'s output once and in order, its statuses and the end, resuming after 1012 and while the node is down', async () => {
    const stop = join(scratch, 'stop');
    // Every child writes until told to stop: output flows before, during and after the restart.
    const res = await system.client.request('POST', '/v1/runs', {
      command: `i=0; while [ ! -e '${stop}' ]; do i=$((i+1)); echo "line $i"; printf 'err %s\\n' "$i" >&2; sleep 0.02; done; echo last`,
      targets: { selector: 'role=rs-web' },
    });
    expect(res.status, res.text).toBe(201);
    const runId = res.body.id as string;
    const target: StreamTarget = { baseUrl: system.apiUrls[0]!, token: system.token };
    const messages: RunStreamMessage[] = [];
    const chunks: RunOutputChunk[] = [];
    const reconnects: RunReconnect[] = [];
    const followed = followRun(target, runId, {
      onMessage: (m) => messages.push(m),
      onOutput: (c) => chunks.push(c),
      onReconnect: (r) => reconnects.push(r),
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    followed.catch(() => {}); // awaited below

    await waitFor('output of every child before the restart', () => new Set(chunks.map((c) => c.jobId)).size === AGENTS.length && chunks.length >= 30, 30_000, 20);
    const port = new URL(system.apiUrls[0]!).port;
    await system.apis[0]!.stop(); // closes every subscriber with 1012
    await system.startApi({ VMO_PORT: port });
    const resumedAfter = chunks.length;
    await waitFor('output after the restart', () => chunks.length >= resumedAfter + 30, 60_000, 20);
    writeFileSync(stop, '');

    const end = await followed;
    expect(end).toMatchObject({ type: 'end', status: 'succeeded', error: null });
    expect(reconnects[0]?.closeCode).toBe(1012);
    expect(reconnects[0]?.after).toEqual(expect.any(String));

    const children = (await system.client.request('GET', `/v1/runs/${runId}/jobs`)).body.items as { id: string; index: number; target: { name: string } }[];
    expect(children.map((c) => c.target.name).sort()).toEqual([...AGENTS].sort());
    const got = assemble(messages);
    for (const child of children) {
      const mine = chunks.filter((c) => c.jobId === child.id);
      expect(mine.map((c) => c.seq), `${child.target.name}: none twice, none skipped`).toEqual(mine.map((_, i) => i));
      expect(new Set(mine.map((c) => `${c.index}:${c.target}`))).toEqual(new Set([`${child.index}:${child.target.name}`]));
      const stored = await system.client.logs(child.id);
      expect(Buffer.concat(mine.map((c) => c.data)).equals(stored), `${child.target.name}: the stored bytes`).toBe(true);
      expect(stored.toString()).toMatch(/^line 1\n[\s\S]*\nlast\n$/);
      const seen = got.get(child.id)!;
      expect(seen.statuses[seen.statuses.length - 1]).toBe('succeeded');
      expect(seen.finalStatusAt).toBeGreaterThan(seen.lastOutputAt);
    }
    const progress = messages.filter((m) => m.type === 'progress');
    expect(progress[progress.length - 1]).toMatchObject({ status: 'succeeded', done: 3, total: 3, counts: { succeeded: 3 } });
    expect(messages[messages.length - 1]).toEqual(end);
  }, 180_000);
});
