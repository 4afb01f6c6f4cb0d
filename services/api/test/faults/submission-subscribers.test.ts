import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Redis } from 'ioredis';
import { hashToken } from '@vmo/shared/tokens';
import { ApiClient, followJob, RedisServer, TestSystem, waitFor, type ServiceProcess } from '@vmo/testkit';
import { expectByteIdentical, MiB, openSql, peakRssMiB, Scratch, sha256, subscribe, waitForOutputFile } from './fault-kit.ts';
import { SlowSubscriber } from './slow-subscriber.ts';

/**
 * Issue 3, "Submission and subscribers" (cases 11–14): Idempotency-Key, a subscriber too slow to
 * keep up, an output flood against the cap, and binary / terminal-control output through every
 * path. Real API, worker and agent processes.
 */

describe('submission and subscribers', () => {
  // Above case 12's flood once kernel socket buffers (several MiB on loopback) are full.
  const CAP = 32 * MiB;
  const TAIL = 1 * MiB;
  const SUBSCRIBER_BUFFER = 4 * MiB;
  let redis: RedisServer;
  let system: TestSystem;
  let sql: ReturnType<typeof openSql>;
  let agent: { id: string; token: string; process: ServiceProcess };
  const scratch = new Scratch();

  beforeAll(async () => {
    // A Redis of our own, to read the API's pub/sub connection's output buffer (CLIENT LIST).
    redis = await RedisServer.start();
    system = await TestSystem.start({
      label: 'faults_sub',
      env: {
        VMO_REDIS_URL: redis.url,
        VMO_MAX_OUTPUT_BYTES: String(CAP),
        VMO_OUTPUT_TAIL_BYTES: String(TAIL),
        VMO_SUBSCRIBER_BUFFER_BYTES: String(SUBSCRIBER_BUFFER),
      },
    });
    agent = await system.startAgent('subs');
    sql = openSql(system.databaseUrl);
  });
  afterAll(async () => {
    await sql?.end();
    await system?.stop();
    await redis?.stop();
    scratch.cleanup();
  });

  it('case 11: Idempotency-Key: same key and body returns the original job (10 concurrent requests, one job); another body is 422; keys are per caller and kept 24 h', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const key = `idem-${randomBytes(6).toString('hex')}`;
    const body = { command: `echo ${key}`, target: { type: 'local' }, labels: { case: '11' } };
    const submit = (c: ApiClient, b: unknown, k = key) => c.request('POST', '/v1/jobs', b, { 'idempotency-key': k });

    const answers = await Promise.all(Array.from({ length: 10 }, () => submit(client, body)));
    for (const a of answers) expect(a.status, a.text).toBe(201);
    const ids = new Set(answers.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
    const [{ n }] = (await sql`select count(*)::int as n from jobs where command = ${body.command}`) as unknown as [{ n: number }];
    expect(n).toBe(1);
    // Key order and spelled-out defaults do not make it another request.
    const reordered = await submit(client, { labels: { case: '11' }, target: { type: 'local' }, command: body.command });
    expect(reordered.status).toBe(201);
    expect(reordered.body.id).toBe(id);
    expect((await client.waitForEnd(id)).status).toBe('succeeded');
    expect((await submit(client, body)).body).toMatchObject({ id, status: 'succeeded' }); // the job as it is now

    const other = await submit(client, { ...body, command: 'echo something else' });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');

    // Another caller with the same key gets a job of its own.
    const secondToken = `vmo_adm_${randomBytes(24).toString('base64url')}`;
    await sql`insert into api_tokens (id, name, token_hash, role) values (${`tok_${randomBytes(10).toString('hex')}`}, 'second caller', ${hashToken(secondToken)}, 'admin')`;
    const theirs = await submit(new ApiClient(system.apiUrls[0]!, secondToken), body);
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(id);

    // Kept 24 h: at 23 h the key still answers with the original job, past 24 h it is free again.
    await sql`update idempotency_keys set created_at = now() - interval '23 hours' where key = ${key}`;
    expect((await submit(client, body)).body.id).toBe(id);
    await sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = ${key}`;
    const fresh = await submit(client, body);
    expect(fresh.status).toBe(201);
    expect(fresh.body.id).not.toBe(id);
    expect(fresh.body.id).not.toBe(theirs.body.id);
  });

  it('case 12: a slow subscriber (1 KiB/s against ~10 MiB/s) is closed 4008 once its send buffer passes the limit; others and the job are unaffected; API memory and its pub/sub connection stay bounded; ?after= catches up', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const out = scratch.path('c12.out');
    const gate = scratch.path('c12.go');
    // ~10 MiB/s (256 KiB every 25 ms) for 40 MiB of random bytes, once both subscribers are in.
    const job = await client.submit({
      command: `while [ ! -e '${gate}' ]; do sleep 0.05; done; i=0; while [ $i -lt 160 ]; do head -c 262144 /dev/urandom; sleep 0.025; i=$((i+1)); done | tee '${out}'`,
      target: { type: 'local' },
    });
    // 40 MiB passes the 32 MiB cap: what the subscribers get is what was stored (head, marker, tail).
    // Resumes like any client, so that a wrongful cut shows up as an interruption (asserted below)
    // rather than as a half-read stream.
    const normal = subscribe(system.apiUrls[0]!, system.token, job.id, undefined, { resume: true });
    await normal.opened;
    const slow = new SlowSubscriber(system.apiUrls[0]!, system.token, job.id, 1024);
    await waitFor('the slow subscriber to receive its first bytes', () => slow.readBytes > 0 || undefined, 20_000, 100);

    const probe = new Redis(redis.url);
    let maxPubsubOmem = 0;
    const watch = setInterval(() => {
      void probe.call('CLIENT', 'LIST', 'TYPE', 'pubsub').then((list) => {
        for (const m of String(list).matchAll(/omem=(\d+)/g)) maxPubsubOmem = Math.max(maxPubsubOmem, Number(m[1]));
      }, () => {});
    }, 100);
    try {
      scratch.raise('c12.go');
      const ended = await client.waitForEnd(job.id, 120_000);
      expect(ended.status).toBe('succeeded');
      const followed = await normal.result;
      expect(followed.interruptions, 'the subscriber that keeps up is never cut').toEqual([]);
      expect(followed.end?.status).toBe('succeeded');
      expect(followed.seqs).toEqual(followed.seqs.map((_, i) => i));
      const stored = await client.logs(job.id); // head + marker + tail (the flood passes the cap)
      expect(Buffer.concat(followed.messages.filter((m) => m.type === 'output').map((m) => Buffer.from(m.data, 'base64'))).equals(stored)).toBe(true);
    } finally {
      clearInterval(watch);
      probe.disconnect();
    }

    // The cut is the server's decision, taken while this subscriber still reads 1 KiB/s: wait for
    // the API to record it before reading the rest at full speed (reading fast first would drain
    // the backlog and hide a server that never cuts).
    const api = system.apis[0]!;
    await waitFor('the API to cut the slow subscriber', () => api.output.includes('subscriber too slow: closed 4008') || undefined, 60_000, 100);
    const readSlowly = slow.readBytes;
    const cut = await slow.finish();
    expect(cut.closeCode).toBe(4008);
    expect(cut.closeReason).toMatch(/too slow.*after=/);
    expect(cut.messages.some((m) => m.type === 'end')).toBe(false);
    const last = cut.seqs.at(-1) ?? -1;
    expect(cut.seqs).toEqual(cut.seqs.map((_, i) => i));

    const rest = await followJob(system.apiUrls[0]!, system.token, job.id, { after: last });
    expect(rest.end?.status).toBe('succeeded');
    expect(rest.seqs[0]).toBe(last + 1);
    const all = Buffer.concat([...cut.messages, ...rest.messages].filter((m) => m.type === 'output').map((m) => Buffer.from(m.data, 'base64')));
    expect(all.equals(await client.logs(job.id))).toBe(true);

    const apiPeak = peakRssMiB(system.apis[0]!.pid);
    console.log(`[case 12] slow subscriber had read ${readSlowly} B at 1 KiB/s, ${cut.stdout.length} B of output before the 4008; API peak RSS ${apiPeak} MiB; max pub/sub output buffer ${maxPubsubOmem} B`);
    expect(apiPeak).toBeLessThan(400);
    expect(maxPubsubOmem).toBeLessThan(8 * MiB); // Redis cuts a subscriber at 32 MB
  }, 180_000);

  it('case 13: output flood (2 GiB of zeros; a 50 MB line without a newline): RSS stays bounded and the cap keeps the head and the tail with a marker between them', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const GiB2 = 2 * 1024 * MiB;
    const LINE = 50_000_000;
    const flood = `head -c ${GiB2} /dev/zero; printf THE-END`;
    const line = `head -c ${LINE} /dev/zero | tr '\\000' x; printf THE-END`;
    const jobs = await Promise.all([
      client.submit({ command: flood, target: { type: 'local' } }),
      client.submit({ command: flood, target: { type: 'agent', agent: 'subs' } }),
      client.submit({ command: line, target: { type: 'agent', agent: 'subs' } }),
    ]);
    const totals = [GiB2 + 7, GiB2 + 7, LINE + 7];
    const fill = [0, 0, 'x'.charCodeAt(0)];
    for (const [i, job] of jobs.entries()) {
      const ended = await client.waitForEnd(job.id, 240_000);
      expect(ended).toMatchObject({ status: 'succeeded', outputTruncated: true });
      const left = totals[i]! - CAP;
      const stdout = await client.logs(job.id, '?stream=stdout');
      expect(stdout.length).toBe(CAP);
      const head = stdout.subarray(0, CAP - TAIL);
      const tail = stdout.subarray(CAP - TAIL);
      expect(head.every((b) => b === fill[i])).toBe(true);
      expect(tail.subarray(-7).toString()).toBe('THE-END'); // the end of the log is kept
      expect(tail.subarray(0, -7).every((b) => b === fill[i])).toBe(true);
      const all = await client.logs(job.id);
      const marker = `\n[vmo: output over the limit of ${CAP} bytes: ${left} bytes left out here]\n`;
      expect(all.subarray(CAP - TAIL, CAP - TAIL + marker.length).toString()).toBe(marker); // between head and tail
      expect(all.length).toBe(CAP + marker.length);
    }
    const rss = { api: peakRssMiB(system.apis[0]!.pid), worker: peakRssMiB(system.workers[0]!.pid), agent: peakRssMiB(agent.process.pid) };
    console.log(`[case 13] peak RSS MiB after 2 × 2 GiB and a 50 MB line (cap ${CAP / MiB} MiB): ${JSON.stringify(rss)}`);
    for (const mib of Object.values(rss)) expect(mib).toBeLessThan(400);
  }, 300_000);

  it('case 14: binary and terminal-control output is byte-identical through every path: local and agent, REST raw and ndjson, WebSocket live and replayed', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const controls = String.raw`printf '\033[31mred\033[0m \033]0;title\007 \033]8;;http://example.com\033\\link\033]8;;\033\\ \r\n\000\377\376\033[2J\033[H\b\t\a'`;
    for (const target of [{ type: 'local' }, { type: 'agent', agent: 'subs' }]) {
      const name = `c14-${target.type}`;
      const gate = scratch.path(`${name}.go`);
      const job = await client.submit({
        command: `{ ${controls}; head -c 100000 /dev/urandom; while [ ! -e '${gate}' ]; do sleep 0.05; done; head -c 300000 /dev/urandom; ${controls}; } | tee '${scratch.path(`${name}.out`)}'`,
        target,
      });
      const live = subscribe(system.apiUrls[0]!, system.token, job.id);
      await live.opened;
      await waitForOutputFile(scratch, name, 100_000);
      scratch.raise(`${name}.go`);
      expect((await client.waitForEnd(job.id)).status).toBe('succeeded');
      const reference = scratch.read(`${name}.out`);
      await expectByteIdentical(client, job.id, reference);

      const ndjson = (await client.logs(job.id, '?stream=stdout&format=ndjson')).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(sha256(Buffer.concat(ndjson.map((c) => Buffer.from(c.data, 'base64'))))).toBe(sha256(reference));
      const fromLive = await live.result;
      expect(fromLive.end?.status).toBe('succeeded');
      expect(sha256(fromLive.stdout)).toBe(sha256(reference));
      const replayed = await followJob(system.apiUrls[0]!, system.token, job.id);
      expect(sha256(replayed.stdout)).toBe(sha256(reference));
    }
  }, 120_000);
});
