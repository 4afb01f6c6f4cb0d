/**
 * Issue 11 "Secrets" for fleet runs: POST /v1/runs takes `secretEnv` as POST /v1/jobs does. Every
 * child's command gets it (two agents, whose API node opens it for the agent, and an SSH host,
 * whose worker opens it); it is `***` in every child's stored output and in the run stream, even
 * written in two pieces with a pause between them; it is in no answer (the run, the run list, its
 * children, its summary, each child's view and logs, an idempotent replay), no row in the clear,
 * no service log line (CANARY_SECRET is the value: the suite's log scan looks for it too); it is
 * sealed once for the run and gone in the transaction that ends the run. Without VMO_SECRET_KEY
 * it is 422 `secrets_disabled`. Real API, worker, agent and sshd processes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY_SECRET, generateKey, knownHostsLine, openWebSocket, registerSecret, ServiceProcess, startSshd, TestSystem, waitFor, type Sshd } from '@vmo/testkit';

const KEY = '5d0e8a3c1b7f49e2a6c4d8f0b2e4a6c81d3f5b7092e4c6a8f0b2d4e6a8c0e2f4';
const SECRET = CANARY_SECRET;
const HEAD = SECRET.slice(0, 17);
const TAIL = SECRET.slice(17);
const b64 = (s: string) => Buffer.from(s).toString('base64');
/** Everything the secret may hide behind in an answer: itself, its halves, base64 of it. */
const FORMS = [SECRET, HEAD, TAIL, b64(SECRET)];
const expectNoSecret = (what: string, text: string) => {
  for (const form of FORMS) expect(text.includes(form), `${what} contains ${form === SECRET ? 'the secret' : 'a piece of it'}`).toBe(false);
};

describe('secretEnv on runs (real API + worker + agents + sshd)', () => {
  let system: TestSystem;
  let sshd: Sshd;
  let dir: string;
  let sql: postgres.Sql;

  beforeAll(async () => {
    registerSecret('VMO_SECRET_KEY of the runs secretEnv test', KEY);
    dir = await mkdtemp(join(tmpdir(), 'vmo-run-secret-env-'));
    const userKey = await generateKey(dir, 'user_key');
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${await knownHostsLine(sshd, { hashed: true })}\n`);
    system = await TestSystem.start({
      label: 'runs_secret_env',
      env: { VMO_SECRET_KEY: KEY, VMO_LOG_LEVEL: 'debug', VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: dir },
    });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    // startAgent's own 20 s is short on a loaded machine: register, spawn, and wait longer here.
    await Promise.all(
      ['sec-1', 'sec-2'].map(async (name) => {
        const reg = await system.client.request('POST', '/v1/agents', { name, labels: { fleet: 'sec' } });
        expect(reg.status, reg.text).toBe(201);
        system.spawnAgent(reg.body.token, { env: { VMO_LOG_LEVEL: 'debug' } });
        await system.waitForAgentStatus(reg.body.id, 'online', 90_000);
      }),
    );
    const host = await system.client.request('POST', '/v1/hosts', {
      name: 'sbox', environment: 'e2e', host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: userKey.privatePath, labels: { fleet: 'sec' },
    });
    expect(host.status, host.text).toBe(201);
  }, 180_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const storedOutput = async (jobId: string, stream: 'stdout' | 'stderr') => {
    const rows = await sql<{ data: Buffer }[]>`select data from job_output where job_id = ${jobId} and stream = ${stream === 'stdout' ? 1 : 2} order by seq`;
    return Buffer.concat(rows.map((r) => r.data));
  };
  const runSecretRows = async (runId: string) => (await sql<{ sealed: Buffer }[]>`select sealed from run_secrets where run_id = ${runId}`).map((r) => r.sealed);
  const childSecretRows = async (runId: string) =>
    (await sql<{ n: number }[]>`select count(*)::int as n from job_secrets s join jobs j on j.id = s.job_id where j.run_id = ${runId}`)[0]!.n;
  const counts = async () => (await sql<{ runs: number; jobs: number }[]>`select (select count(*)::int from runs) as runs, (select count(*)::int from jobs) as jobs`)[0]!;

  it('every child gets it and prints ***, across two writes with a pause, in stored output and in the run stream; no answer shows it; it is gone when the run ends', async () => {
    const flag = join(dir, 'go');
    const command = [
      `printf 'start PLAIN=%s\\n' "$PLAIN"`,
      `printf %s "$TOKEN" | head -c ${HEAD.length}`,
      `while [ ! -e ${flag} ]; do sleep 0.05; done`,
      `printf %s "$TOKEN" | tail -c +${HEAD.length + 1}`,
      `printf ' end\\n'`,
      `printf 'err:%s\\n' "$TOKEN" >&2`,
      `printf '%s\\n' "$TOKEN" | wc -c`,
    ].join('; ');
    const body = { command, targets: { selector: 'fleet=sec' }, env: { PLAIN: 'visible' }, secretEnv: { TOKEN: SECRET } };
    const submitted = await system.client.request('POST', '/v1/runs', body, { 'Idempotency-Key': 'run-secret-1' });
    expect(submitted.status, submitted.text).toBe(201);
    expectNoSecret('the submit answer', submitted.text);
    expect(submitted.body).toMatchObject({ total: 3, env: { PLAIN: 'visible' }, secretEnvNames: ['TOKEN'] });
    const runId: string = submitted.body.id;

    // Sealed once for the run, encrypted: no child has a row of its own.
    const sealed = await runSecretRows(runId);
    expect(sealed).toHaveLength(1);
    for (const form of FORMS) expect(sealed[0]!.includes(Buffer.from(form))).toBe(false);
    expect(await childSecretRows(runId)).toBe(0);

    // An idempotent replay answers the same run, without the secret.
    const replay = await system.client.request('POST', '/v1/runs', body, { 'Idempotency-Key': 'run-secret-1' });
    expect(replay.status).toBe(201);
    expect(replay.body.id).toBe(runId);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expectNoSecret('the replay', replay.text);
    const reused = await system.client.request('POST', '/v1/runs', { ...body, secretEnv: { TOKEN: `${SECRET}-other` } }, { 'Idempotency-Key': 'run-secret-1' });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');

    const stream = await openWebSocket(`${system.apiUrls[0]}/v1/runs/${runId}/stream`, { token: system.token });
    expect(stream.kind).toBe('open');
    if (stream.kind !== 'open') return;

    const kids = (await system.client.request('GET', `/v1/runs/${runId}/jobs`)).body.items as { id: string; target: { kind: string; name: string } }[];
    expect(kids.map((k) => k.target.name)).toEqual(['sec-1', 'sec-2', 'sbox@e2e']);
    // Live before the secret is complete: each child's "start" is stored while it waits, the first half is not.
    for (const k of kids) {
      await waitFor(`${k.target.name}'s first line stored while it runs`, async () => {
        if ((await storedOutput(k.id, 'stdout')).includes('start PLAIN=visible\n')) return true;
        const job = await system.client.job(k.id);
        if (!['queued', 'running'].includes(job.status)) throw new Error(`${k.target.name} ended ${job.status}: ${JSON.stringify(job.error)}`);
        return undefined;
      }, 90_000);
    }
    for (const k of kids) expectNoSecret(`${k.target.name}'s output so far`, (await storedOutput(k.id, 'stdout')).toString('latin1'));
    expect(await runSecretRows(runId)).toHaveLength(1); // still there: the run has not ended
    await writeFile(flag, '');

    await waitFor('the run to end', async () => {
      const run = await system.client.request('GET', `/v1/runs/${runId}`);
      return ['succeeded', 'failed', 'canceled'].includes(run.body.status) ? run : undefined;
    }, 90_000);
    // Gone in the transaction that ended the run: no wait.
    expect(await runSecretRows(runId)).toEqual([]);
    expect(await childSecretRows(runId)).toBe(0);
    const run = await system.client.request('GET', `/v1/runs/${runId}`);
    expect(run.body).toMatchObject({ status: 'succeeded', secretEnvNames: ['TOKEN'] });

    // Each child had the whole value (its length with the newline), and stored *** in its place.
    const want = `start PLAIN=visible\n*** end\n${SECRET.length + 1}\n`;
    for (const k of kids) {
      const out = (await storedOutput(k.id, 'stdout')).toString('latin1');
      expect(out.replace(/ +(\d+\n)$/, '$1'), k.target.name).toBe(want);
      expect((await storedOutput(k.id, 'stderr')).toString('latin1'), k.target.name).toBe('err:***\n');
    }

    // The run stream: every child's output, masked.
    await waitFor('the stream to end', () => (stream.texts.some((t) => t.includes('"type":"end"')) ? true : undefined), 30_000);
    stream.ws.close();
    const frames = stream.texts.map((t) => JSON.parse(t) as { type: string; jobId?: string; data?: string });
    expectNoSecret('the run stream', stream.texts.join('\n'));
    for (const k of kids) {
      const streamed = Buffer.concat(frames.filter((f) => f.type === 'output' && f.jobId === k.id).map((f) => Buffer.from(f.data!, 'base64'))).toString('latin1');
      expect(streamed, `${k.target.name} in the stream`).toContain('*** end\n');
      expectNoSecret(`${k.target.name} in the stream`, streamed);
    }

    // Every answer about the run and its children.
    const paths = [
      `/v1/runs/${runId}`,
      '/v1/runs',
      `/v1/runs/${runId}/jobs`,
      `/v1/runs/${runId}/summary`,
      `/v1/jobs?run=${runId}`,
      ...kids.flatMap((k) => [`/v1/jobs/${k.id}`, `/v1/jobs/${k.id}/logs`, `/v1/jobs/${k.id}/logs?format=ndjson`]),
    ];
    for (const path of paths) {
      const res = await system.client.request('GET', path);
      expect(res.status, path).toBe(200);
      expectNoSecret(`GET ${path}`, res.text);
    }
    for (const k of kids) expect((await system.client.job(k.id)).secretEnvNames).toEqual(['TOKEN']);
    // No column of the run's row nor of a child's.
    const [runRow] = await sql<{ json: string }[]>`select row_to_json(r)::text as json from runs r where id = ${runId}`;
    expectNoSecret('the runs row', runRow!.json);
    for (const row of await sql<{ json: string }[]>`select row_to_json(j)::text as json from jobs j where run_id = ${runId}`) expectNoSecret('a child row', row.json);
  }, 240_000);

  it('a run canceled before its children ran drops its secrets with its end', async () => {
    const reg = await system.client.request('POST', '/v1/agents', { name: 'never-online', labels: { fleet: 'away' } });
    expect(reg.status, reg.text).toBe(201);
    const res = await system.client.request('POST', '/v1/runs', { command: 'printf %s "$TOKEN"', targets: { agents: ['never-online'] }, secretEnv: { TOKEN: SECRET } });
    expect(res.status, res.text).toBe(201);
    expect(await runSecretRows(res.body.id)).toHaveLength(1);
    const canceled = await system.client.request('POST', `/v1/runs/${res.body.id}/cancel`, {});
    expect(canceled.status, canceled.text).toBe(202);
    await waitFor('the run canceled', async () => ((await system.client.request('GET', `/v1/runs/${res.body.id}`)).body.status === 'canceled' ? true : undefined), 30_000);
    expect(await runSecretRows(res.body.id)).toEqual([]);
  });

  it('the OpenAPI document shows secretEnv on RunInput and secretEnvNames on Run', async () => {
    const doc = (await (await fetch(`${system.apiUrls[0]}/v1/openapi.json`)).json()) as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    expect(Object.keys(doc.components.schemas.RunInput!.properties!)).toContain('secretEnv');
    expect(Object.keys(doc.components.schemas.Run!.properties!)).toContain('secretEnvNames');
  });

  it('a name in both env and secretEnv is a 400 naming it; nothing is created', async () => {
    const before = await counts();
    const res = await system.client.request('POST', '/v1/runs', { command: 'true', targets: { selector: 'fleet=sec' }, env: { TOKEN: 'plain' }, secretEnv: { TOKEN: SECRET } });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', details: { field: 'secretEnv.TOKEN' } });
    expectNoSecret('the 400', res.text);
    expect(await counts()).toEqual(before);
  });

  it('without VMO_SECRET_KEY, a run with secretEnv is 422 secrets_disabled and nothing is created', async () => {
    const { VMO_SECRET_KEY: _key, ...withoutKey } = system.env;
    const api = new ServiceProcess('api', withoutKey);
    try {
      const [, url] = await api.waitForOutput(/"url":"(http:\/\/[^"]+)","msg":"api listening"/, 90_000);
      const before = await counts();
      const res = await fetch(`${url}/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${system.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'printf %s "$TOKEN"', targets: { selector: 'fleet=sec' }, secretEnv: { TOKEN: SECRET } }),
      });
      const text = await res.text();
      expect(res.status, text).toBe(422);
      expect(JSON.parse(text).error).toMatchObject({ code: 'secrets_disabled' });
      expect(JSON.parse(text).error.message).toMatch(/^secretEnv: .*VMO_SECRET_KEY/);
      expectNoSecret('the 422', text);
      expect(await counts()).toEqual(before);
    } finally {
      await api.stop();
    }
  }, 180_000);

  it('no service logged the secret or the key', async () => {
    await system.stop();
    const processes = [...system.apis, ...system.workers, ...system.agents];
    expect(processes.length).toBeGreaterThanOrEqual(4);
    for (const p of processes) {
      expect(p.output.length, `${p.role} printed nothing?`).toBeGreaterThan(0);
      for (const form of [...FORMS, KEY]) expect(p.output.includes(form), `${p.role} ${p.pid} logged a secret`).toBe(false);
    }
  }, 120_000);
});
