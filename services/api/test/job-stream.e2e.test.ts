import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followJob, openWebSocket, TestSystem, uniqueSleepArg, type FollowResult } from '@vmo/testkit';

/**
 * GET /v1/jobs/{id}/stream: whenever a subscriber connects, it gets every byte exactly once, in
 * order, then `end`, then close 1000. And the upgrade refuses what it must.
 */
describe('job stream (WebSocket subscribers)', () => {
  let system: TestSystem;
  let streamUrl: (jobId: string, query?: string) => string;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'job_stream' });
    streamUrl = (jobId, query = '') => `${system.apiUrls[0]!.replace(/^http/, 'ws')}/v1/jobs/${jobId}/stream${query}`;
  });
  afterAll(async () => {
    await system?.stop();
  });

  const LINES = 400;
  const numberedCommand = `for i in $(seq 1 ${LINES}); do echo line-$i; sleep 0.005; done`;
  const numberedOutput = Array.from({ length: LINES }, (_, i) => `line-${i + 1}\n`).join('');

  const expectComplete = (got: FollowResult, firstSeq = 0) => {
    expect(got.seqs).toEqual(got.seqs.map((_, i) => firstSeq + i)); // dense, in order, no duplicate
    expect(got.end).toEqual({ status: 'succeeded', exitCode: 0, signal: null });
    expect(got.messages[got.messages.length - 1].type).toBe('end');
    expect(got.closeCode).toBe(1000);
  };

  it('gives every subscriber every byte exactly once, in order, then end and close 1000, whenever it connects', async () => {
    const job = await system.client.submit({ command: numberedCommand });
    // Subscribers joining at random moments of the run: some when the first one has seen a random
    // number of chunks (so they surely join while output is flowing), some on a random timer.
    const triggers = Array.from({ length: 4 }, () => 1 + Math.floor(Math.random() * 60));
    const triggered: Promise<FollowResult>[] = [];
    const subscribers: Promise<FollowResult>[] = [
      followJob(system.apiUrls[0]!, system.token, job.id, {
        onMessage: (msg) => {
          if (msg.type !== 'output') return;
          for (const t of triggers) if (msg.seq === t) triggered.push(followJob(system.apiUrls[0]!, system.token, job.id));
        },
      }),
    ];
    for (let i = 0; i < 4; i++) {
      subscribers.push(new Promise((r) => setTimeout(r, Math.random() * 2500)).then(() => followJob(system.apiUrls[0]!, system.token, job.id)));
    }

    const results = await Promise.all(subscribers);
    results.push(...(await Promise.all(triggered)));
    expect(results.length).toBeGreaterThanOrEqual(5);
    for (const got of results) {
      expectComplete(got);
      expect(got.stdout.toString()).toBe(numberedOutput);
      expect(got.stderr.length).toBe(0);
    }
    expect((await system.client.logs(job.id)).toString()).toBe(numberedOutput);
  });

  it('resumes with ?after=<seq>: a subscriber that drops mid-job and reconnects misses nothing and repeats nothing', async () => {
    const job = await system.client.submit({ command: numberedCommand });
    const dropAfter = 5 + Math.floor(Math.random() * 20);
    const first = await followJob(system.apiUrls[0]!, system.token, job.id, {
      onMessage: (msg, ws) => {
        if (msg.type === 'output' && msg.seq === dropAfter) ws.close();
      },
    });
    expect(first.end).toBeUndefined();
    const last = first.seqs[first.seqs.length - 1]!;
    expect(last).toBeGreaterThanOrEqual(dropAfter);

    const rest = await followJob(system.apiUrls[0]!, system.token, job.id, { after: last });
    expectComplete(rest, last + 1);
    expect(Buffer.concat([first.stdout, rest.stdout]).toString()).toBe(numberedOutput);
  });

  it('replays a finished job and sends end; ?after= skips what the subscriber has', async () => {
    const job = await system.client.submit({ command: "printf 'a\\n'; printf 'b\\n' >&2; printf 'c\\n'; exit 4" });
    await system.client.waitForEnd(job.id);

    const all = await followJob(system.apiUrls[0]!, system.token, job.id);
    expect(all.end).toEqual({ status: 'failed', exitCode: 4, signal: null });
    expect(all.closeCode).toBe(1000);
    expect(all.seqs).toEqual(all.seqs.map((_, i) => i));
    expect(all.stdout.toString()).toBe('a\nc\n');
    expect(all.stderr.toString()).toBe('b\n');

    const tail = await followJob(system.apiUrls[0]!, system.token, job.id, { after: all.seqs[0]! });
    expect(tail.seqs).toEqual(all.seqs.slice(1));
    expect(tail.end).toEqual(all.end);

    const none = await followJob(system.apiUrls[0]!, system.token, job.id, { after: all.seqs[all.seqs.length - 1]! });
    expect(none.seqs).toEqual([]);
    expect(none.end).toEqual(all.end);
    expect(none.closeCode).toBe(1000);
  });

  it('authenticates a browser by the subprotocols vmo.v1 + bearer.<token>, and selects vmo.v1, never the token', async () => {
    const job = await system.client.submit({ command: 'echo via-subprotocol' });
    await system.client.waitForEnd(job.id);
    const opened = await openWebSocket(streamUrl(job.id), { protocols: [`bearer.${system.token}`, 'vmo.v1'] });
    expect(opened.kind).toBe('open');
    if (opened.kind !== 'open') return;
    expect(opened.protocol).toBe('vmo.v1');
    const closed = await opened.closed;
    expect(closed.code).toBe(1000);
    const messages: any[] = opened.texts.map((t) => JSON.parse(t));
    const output = messages.filter((m) => m.type === 'output');
    expect(Buffer.concat(output.map((m) => Buffer.from(m.data, 'base64'))).toString()).toBe('via-subprotocol\n');
    expect(messages[messages.length - 1]).toEqual({ type: 'end', status: 'succeeded', exitCode: 0, signal: null });
  });

  it('refuses the upgrade: no token 401, wrong token 401, agent token 403, unknown job 404', async () => {
    const job = await system.client.submit({ command: 'true' });
    const agentToken = (await system.client.request('POST', '/v1/agents', { name: 'stream-auth-agent' })).body.token as string;

    const cases: [string, Parameters<typeof openWebSocket>[1], string, number][] = [
      ['no token', {}, job.id, 401],
      ['wrong token', { token: 'vmo_adm_wrongwrongwrongwrong' }, job.id, 401],
      ['wrong subprotocol token', { protocols: ['vmo.v1', 'bearer.vmo_adm_nope'] }, job.id, 401],
      ['a bearer subprotocol without vmo.v1 (the server would have only the token to select)', { protocols: [`bearer.${system.token}`] }, job.id, 400],
      ['agent token', { token: agentToken }, job.id, 403],
      ['unknown job', { token: system.token }, 'job_00000000000000000000', 404],
      ['malformed job id', { token: system.token }, 'nope', 404],
    ];
    for (const [what, opts, jobId, status] of cases) {
      const res = await openWebSocket(streamUrl(jobId), opts);
      expect(res.kind, what).toBe('refused');
      if (res.kind !== 'refused') continue;
      expect(res.status, what).toBe(status);
      expect(JSON.parse(res.body).error.code, what).toEqual(expect.any(String));
    }
  });

  it('closes a subscriber that sends a malformed frame (1008) or an oversized one (1009), and keeps serving', async () => {
    const marker = uniqueSleepArg();
    const job = await system.client.submit({ command: `echo waiting; sleep ${marker}` });
    await system.client.waitForStatus(job.id, 'running');

    const bad = await openWebSocket(streamUrl(job.id), { token: system.token });
    expect(bad.kind).toBe('open');
    if (bad.kind !== 'open') return;
    bad.ws.send('hello');
    expect((await bad.closed).code).toBe(1008);

    const big = await openWebSocket(streamUrl(job.id), { token: system.token });
    expect(big.kind).toBe('open');
    if (big.kind !== 'open') return;
    big.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(64 * 1024) }));
    expect((await big.closed).code).toBe(1009);

    // A ping is allowed; the server is still up, still streams, and REST still answers.
    const good = followJob(system.apiUrls[0]!, system.token, job.id, {
      onMessage: (msg, ws) => {
        if (msg.type === 'output') ws.send(JSON.stringify({ type: 'ping' }));
      },
    });
    expect((await system.client.request('GET', '/health')).status).toBe(200);
    expect((await system.client.request('POST', `/v1/jobs/${job.id}/cancel`, { graceMs: 500 })).status).toBe(202);
    const got = await good;
    expect(got.stdout.toString()).toBe('waiting\n');
    expect(got.end?.status).toBe('canceled');
    expect(got.closeCode).toBe(1000);
  });
});
