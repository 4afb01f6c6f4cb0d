/**
 * Issue 11, "Secrets": a job's `secretEnv` reaches the command on every target kind (local, SSH,
 * agent) and appears nowhere else: in no API answer (view, list, logs, stream), no service log, no
 * stored output byte, no Redis message; it is masked as `***` in the output even when the command
 * writes it in two pieces with a pause between them, while the output before it stays live; it is
 * encrypted at rest and gone once the job has ended. Real API, worker, agent and sshd processes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  followJobToEnd,
  generateKey,
  knownHostsLine,
  registerSecret,
  ServiceProcess,
  startSshd,
  TEST_REDIS_URL,
  TestSystem,
  waitFor,
  type Sshd,
} from '@vmo/testkit';

const KEY = 'c3a91f07d25e48b6a0f1e9d7c5b3a28164f0e2d4c6b8a0193e5f7d9b1c3a5e7f';
/** The secret, in two halves that are each distinctive: neither may appear anywhere either. */
const HEAD = 'vmoSecretHEAD-7Qx2';
const TAIL = 'Lw9TAILpart-4Zk8';
const SECRET = `${HEAD}${TAIL}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
/** Everything a secret may hide behind in an answer: itself, its halves, base64 of it. */
const FORMS = [SECRET, HEAD, TAIL, b64(SECRET)];
const expectNoSecret = (what: string, text: string) => {
  for (const form of FORMS) expect(text.includes(form), `${what} contains ${form === SECRET ? 'the secret' : 'a piece of it'}`).toBe(false);
};

describe('secretEnv (real API + worker + agent + sshd)', () => {
  let system: TestSystem;
  let sshd: Sshd;
  let dir: string;
  let sql: postgres.Sql;
  let redis: Redis;
  const busMessages: string[] = [];

  beforeAll(async () => {
    registerSecret('a secretEnv value', SECRET);
    registerSecret('VMO_SECRET_KEY of the secretEnv test', KEY);
    dir = await mkdtemp(join(tmpdir(), 'vmo-secret-env-'));
    const userKey = await generateKey(dir, 'user_key');
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${await knownHostsLine(sshd, { hashed: true })}\n`);
    system = await TestSystem.start({
      label: 'secret_env',
      env: { VMO_SECRET_KEY: KEY, VMO_LOG_LEVEL: 'debug', VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: dir },
    });
    // Every message on this system's Redis channels, to show no secret crosses Redis in the clear.
    redis = new Redis(TEST_REDIS_URL);
    redis.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer, message: Buffer) => busMessages.push(`${channel.toString('latin1')} ${message.toString('latin1')}`));
    await redis.psubscribe(`${system.env.VMO_REDIS_PREFIX}*`);
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    await system.startAgent('secret-agent', { env: { VMO_LOG_LEVEL: 'debug' } });
    const host = await system.client.request('POST', '/v1/hosts', { name: 'box', environment: 'e2e', host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: userKey.privatePath });
    expect(host.status, host.text).toBe(201);
  });
  afterAll(async () => {
    redis?.disconnect();
    await sql?.end();
    await system?.stop();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const storedOutput = async (jobId: string) => {
    const rows = await sql<{ data: Buffer }[]>`select data from job_output where job_id = ${jobId} order by seq`;
    return Buffer.concat(rows.map((r) => r.data));
  };
  const sealedRow = async (jobId: string) => (await sql<{ sealed: Buffer }[]>`select sealed from job_secrets where job_id = ${jobId}`)[0]?.sealed;

  describe.each([
    ['local', { type: 'local' }],
    ['agent', { type: 'agent', agent: 'secret-agent' }],
    ['ssh', { type: 'ssh', host: 'box@e2e' }],
  ])('on a %s target', (kind, target) => {
    it('reaches the command, is masked in the stored and streamed output across two writes with a pause, and is shown nowhere', async () => {
      const flag = join(dir, `go-${kind}`);
      // The secret in two writes, the second only once the test says so: the first half sits in
      // the producer, held back as a possible beginning of the secret, while "start" is already
      // stored and streamed.
      const command = [
        `printf 'start PLAIN=%s\\n' "$PLAIN"`,
        `printf %s "$TOKEN" | head -c ${HEAD.length}`,
        `while [ ! -e ${flag} ]; do sleep 0.05; done`,
        `printf %s "$TOKEN" | tail -c +${HEAD.length + 1}`,
        `printf ' end\\n'`,
        `printf 'err:%s\\n' "$TOKEN" >&2`,
        `printf '%s\\n' "$TOKEN" | wc -c`,
      ].join('; ');
      const submitted = await system.client.request('POST', '/v1/jobs', { command, target, env: { PLAIN: 'visible' }, secretEnv: { TOKEN: SECRET } });
      expect(submitted.status, submitted.text).toBe(201);
      expectNoSecret('the submit answer', submitted.text);
      expect(submitted.body).toMatchObject({ env: { PLAIN: 'visible' }, secretEnvNames: ['TOKEN'] });
      const jobId: string = submitted.body.id;

      // Encrypted at rest: the row holds no form of it.
      const sealed = await sealedRow(jobId);
      expect(sealed).toBeDefined();
      for (const form of FORMS) expect(sealed!.includes(Buffer.from(form))).toBe(false);

      const streamed = followJobToEnd(system.apiUrls[0]!, system.token, jobId);
      // Live before the secret is complete: "start" is stored while the job waits, its first half is not.
      await waitFor('the first line stored while the job runs', async () => ((await storedOutput(jobId)).includes('start PLAIN=visible\n') ? true : undefined), 30_000);
      expect((await system.client.job(jobId)).status).toBe('running');
      expectNoSecret('the output stored so far', (await storedOutput(jobId)).toString('latin1'));
      await writeFile(flag, '');

      const ended = await system.client.waitForEnd(jobId);
      expect(ended).toMatchObject({ status: 'succeeded', exitCode: 0, secretEnvNames: ['TOKEN'] });
      // The command had the whole value (its length, with the newline), and the output shows ***.
      const want = `start PLAIN=visible\n*** end\n${SECRET.length + 1}\n`;
      expect((await system.client.logs(jobId, '?stream=stdout')).toString().replace(/ +(\d+\n)$/, '$1')).toBe(want);
      expect((await system.client.logs(jobId, '?stream=stderr')).toString()).toBe('err:***\n');

      // Stored bytes, read from Postgres itself.
      const stored = (await storedOutput(jobId)).toString('latin1');
      expectNoSecret('job_output', stored);
      expect(stored).toContain('***');
      // Streamed bytes: the same masked bytes.
      const stream = await streamed;
      expect(stream.end?.status).toBe('succeeded');
      expect(stream.stdout.toString().replace(/ +(\d+\n)$/, '$1')).toBe(want);
      expectNoSecret('the stream', JSON.stringify(stream.messages));

      // Every answer about the job.
      for (const path of [`/v1/jobs/${jobId}`, '/v1/jobs?limit=500', `/v1/jobs/${jobId}/logs`, `/v1/jobs/${jobId}/logs?format=ndjson`]) {
        const res = await system.client.request('GET', path);
        expect(res.status, path).toBe(200);
        expectNoSecret(`GET ${path}`, res.text);
      }
      // No column of the job's row.
      const [row] = await sql<{ json: string }[]>`select row_to_json(j)::text as json from jobs j where id = ${jobId}`;
      expectNoSecret('the jobs row', row!.json);
      // Dropped once the job has ended.
      await waitFor("the job's secrets dropped", async () => ((await sealedRow(jobId)) === undefined ? true : undefined), 30_000);
    });
  });

  it('an agent job sent its secrets across Redis sealed only', async () => {
    const runs = busMessages.filter((m) => m.includes('"type":"run"'));
    expect(runs.some((m) => m.includes('"sealedSecretEnv"'))).toBe(true);
  });

  it('a name in both env and secretEnv is a 400 naming it; nothing is created', async () => {
    const before = (await sql`select count(*)::int as n from jobs`)[0]!.n;
    const res = await system.client.request('POST', '/v1/jobs', { command: 'true', env: { TOKEN: 'plain' }, secretEnv: { TOKEN: SECRET } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', details: { field: 'secretEnv.TOKEN' } });
    expect(res.body.error.message).toMatch(/^secretEnv\.TOKEN: is also in env/);
    expectNoSecret('the 400', res.text);
    expect((await sql`select count(*)::int as n from jobs`)[0]!.n).toBe(before);
  });

  it('Idempotency-Key: the same body replays the job; other secret values with the same key are refused', async () => {
    const body = { command: 'true', secretEnv: { TOKEN: SECRET } };
    const first = await system.client.request('POST', '/v1/jobs', body, { 'Idempotency-Key': 'secret-env-key-1' });
    expect(first.status, first.text).toBe(201);
    const again = await system.client.request('POST', '/v1/jobs', body, { 'Idempotency-Key': 'secret-env-key-1' });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await system.client.request('POST', '/v1/jobs', { ...body, secretEnv: { TOKEN: `${SECRET}-other` } }, { 'Idempotency-Key': 'secret-env-key-1' });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    await system.client.waitForEnd(first.body.id);
  });

  it('an agent that does not announce secret_env is never sent the secrets: the job fails secrets_unsupported', async () => {
    const reg = await system.client.request('POST', '/v1/agents', { name: 'old-agent' });
    expect(reg.status).toBe(201);
    // An agent of the version before secretEnv: its hello has no `features`.
    const frames: string[] = [];
    const ws = new WebSocket(`${system.apiUrls[0]!.replace('http', 'ws')}/v1/agent/connect`, { headers: { authorization: `Bearer ${reg.body.token}` } });
    ws.on('message', (data) => frames.push(data.toString()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const heartbeat = setInterval(() => ws.send(JSON.stringify({ type: 'heartbeat', v: 1, running: 0 })), 200);
    try {
      ws.send(JSON.stringify({ type: 'hello', v: 1, agentVersion: '0.0.1', hostname: 'old', os: 'linux', arch: 'x64', jobs: [] }));
      await waitFor('welcome', () => (frames.some((f) => f.includes('"welcome"')) ? true : undefined));
      await system.waitForAgentStatus(reg.body.id, 'online');
      const job = await system.client.submit({ command: 'printf %s "$TOKEN"', target: { type: 'agent', agent: 'old-agent' }, secretEnv: { TOKEN: SECRET } });
      const ended = await system.client.waitForEnd(job.id);
      expect(ended).toMatchObject({ status: 'failed', error: { code: 'secrets_unsupported' } });
      expect(frames.some((f) => f.includes('"type":"run"'))).toBe(false);
      expectNoSecret('what the old agent received', frames.join('\n'));
    } finally {
      clearInterval(heartbeat);
      ws.close();
    }
  });

  it('without VMO_SECRET_KEY, a job with secretEnv is 422 secrets_disabled and nothing is created', async () => {
    const { VMO_SECRET_KEY: _key, ...withoutKey } = system.env;
    const api = new ServiceProcess('api', withoutKey);
    try {
      const [, url] = await api.waitForOutput(/"url":"(http:\/\/[^"]+)","msg":"api listening"/);
      const client = system.clientFor(0);
      const before = (await sql`select count(*)::int as n from jobs`)[0]!.n;
      const res = await fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${system.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'printf %s "$TOKEN"', secretEnv: { TOKEN: SECRET } }),
      });
      const text = await res.text();
      expect(res.status).toBe(422);
      expect(JSON.parse(text).error).toMatchObject({ code: 'secrets_disabled' });
      expect(JSON.parse(text).error.message).toMatch(/^secretEnv: .*VMO_SECRET_KEY/);
      expectNoSecret('the 422', text);
      expect((await sql`select count(*)::int as n from jobs`)[0]!.n).toBe(before);
      // The same node takes a job without secrets.
      const plain = await fetch(`${url}/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${system.token}` }, body: JSON.stringify({ command: 'true' }) });
      expect(plain.status).toBe(201);
      await client.waitForEnd(((await plain.json()) as { id: string }).id);
    } finally {
      await api.stop();
    }
  });

  it('a job that ends where no observer runs (canceled while queued, by the API) has its secrets dropped by the sweep', async () => {
    const reg = await system.client.request('POST', '/v1/agents', { name: 'never-online' });
    expect(reg.status).toBe(201);
    const job = await system.client.submit({ command: 'true', target: { type: 'agent', agent: 'never-online' }, secretEnv: { TOKEN: SECRET } });
    expect(await sealedRow(job.id)).toBeDefined();
    expect((await system.client.request('POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(202);
    expect((await system.client.waitForEnd(job.id)).status).toBe('canceled');
    await waitFor("the canceled job's secrets dropped by the sweep", async () => ((await sealedRow(job.id)) === undefined ? true : undefined), 30_000);
  });

  it('a worker without VMO_SECRET_KEY runs nothing: the job fails secrets_unavailable', async () => {
    // The only worker now is one without the key.
    await Promise.all(system.workers.map((w) => w.stop()));
    const { VMO_SECRET_KEY: _key, ...withoutKey } = system.env;
    const worker = new ServiceProcess('worker', withoutKey);
    system.workers.push(worker); // stopped, and its log read, with the others
    await worker.waitForOutput(/"msg":"worker started"/);
    const marker = join(dir, 'ran-without-key');
    const job = await system.client.submit({ command: `touch ${marker}; printf %s "$TOKEN"`, secretEnv: { TOKEN: SECRET } });
    const ended = await system.client.waitForEnd(job.id);
    expect(ended).toMatchObject({ status: 'failed', outputBytes: 0, error: { code: 'secrets_unavailable' } });
    expect(ended.error!.message).toMatch(/VMO_SECRET_KEY/);
    await expect(rm(marker)).rejects.toThrow(/ENOENT/);
    await waitFor("the failed job's secrets dropped", async () => ((await sealedRow(job.id)) === undefined ? true : undefined), 30_000);
  });

  it('no service logged the secret or the key, and no Redis message carried the secret', async () => {
    await system.stop();
    const processes = [...system.apis, ...system.workers, ...system.agents];
    expect(processes.length).toBeGreaterThanOrEqual(3);
    for (const p of processes) {
      expect(p.output.length, `${p.role} printed nothing?`).toBeGreaterThan(0);
      for (const form of [...FORMS, KEY]) expect(p.output.includes(form), `${p.role} ${p.pid} logged a secret`).toBe(false);
    }
    expect(busMessages.length).toBeGreaterThan(0);
    for (const m of busMessages) expectNoSecret('a Redis message', m);
  });
});
