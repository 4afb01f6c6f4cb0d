import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseLogLines, type LogLine } from '@vmo/shared/log-line';
import { CANARY_SECRET, generateKey, startSshd, TestSystem, waitFor, type ServiceProcess, type Sshd } from '@vmo/testkit';

/**
 * Issue 12, Logs: every line the API, the worker and the agent write is one JSON object of ONE
 * schema (@vmo/shared/log-line), with the ids it concerns; an access line per request carrying
 * the id answered as X-Request-Id; a line per job start and end in the worker; an SSH host-key
 * refusal logged with the host's name and the reason. Real processes, their real output.
 */
describe('log lines of the API, the worker and the agent (one schema)', () => {
  let system: TestSystem;
  let agent: ServiceProcess;
  let impostor: Sshd;
  let dir: string;

  /** The process's JSON lines, every one of which must fit the schema. */
  const linesOf = (proc: ServiceProcess): LogLine[] => {
    const { lines, invalid } = parseLogLines(proc.output);
    expect(invalid, `lines off the schema in ${proc.role}'s output`).toEqual([]);
    return lines;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmo-log-e2e-'));
    system = await TestSystem.start({ label: 'log_schema', env: { VMO_SSH_KEY_DIRS: dir } });
    agent = (await system.startAgent('log-agent')).process;
    // A host whose server presents a key other than the pinned one.
    const [user, pinned] = [await generateKey(dir, 'user_key'), await generateKey(dir, 'pinned_key')];
    impostor = await startSshd({ authorizedKeys: [] });
    const host = await system.client.request('POST', '/v1/hosts', { name: 'moved-box', environment: 'logs', host: '127.0.0.1', port: impostor.port, user: 'root', identityFile: user.privatePath, pinnedHostKeys: [pinned.publicKey] });
    expect(host.status).toBe(201);
  }, 300_000); // real processes on a machine that may be loaded: a deadline, not a measure
  afterAll(async () => {
    await system?.stop();
    await impostor?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an access line per request, with the X-Request-Id answered, the principal, and no query value', async () => {
    const sent = `log-test-${Date.now()}`;
    const res = await fetch(`${system.apiUrls[0]}/v1/jobs?limit=3&status=${CANARY_SECRET}`, { headers: { authorization: `Bearer ${system.token}`, 'x-request-id': sent } });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-request-id')).toBe(sent);
    const fresh = await fetch(`${system.apiUrls[0]}/v1/jobs`, { headers: { authorization: `Bearer ${system.token}` } });
    expect(fresh.status).toBe(200);
    const generated = fresh.headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);

    const api = system.apis[0]!;
    await api.waitForOutput(new RegExp(`"requestId":"${generated}"[^\\n]*"msg":"request"`));
    const access = linesOf(api).filter((l) => l.msg === 'request');
    const mine = access.find((l) => l.requestId === sent);
    expect(mine).toMatchObject({ service: 'api', level: 30, method: 'GET', path: '/v1/jobs', query: ['limit', 'status'], status: 400, principal: { kind: 'bootstrap' } });
    expect(mine!.durationMs).toEqual(expect.any(Number));
    expect(access.find((l) => l.requestId === generated)).toMatchObject({ status: 200, path: '/v1/jobs' });
    expect(api.output).not.toContain(CANARY_SECRET);
    expect(api.output).not.toContain(system.token);
  });

  it('an access line per WebSocket upgrade: 101 with the principal, a refusal with its status, the agent connect', async () => {
    const job = await system.client.submit({ command: 'echo streamed', target: { type: 'local' } });
    const streamUrl = `${system.apiUrls[0]!.replace(/^http/, 'ws')}/v1/jobs/${job.id}/stream`;
    /** Open a job stream; resolves with the upgrade's answer: 101 once open, else the refusal's status. */
    const upgrade = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(streamUrl, ['vmo.v1'], { headers });
        ws.once('open', () => {
          ws.close();
          resolve(101);
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          ws.terminate();
        });
        ws.once('error', reject);
      });
    const [opened, refused] = [`ws-open-${Date.now()}`, `ws-refused-${Date.now()}`];
    expect(await upgrade({ authorization: `Bearer ${system.token}`, 'x-request-id': opened })).toBe(101);
    expect(await upgrade({ authorization: `Bearer vmo_pat_${CANARY_SECRET}`, 'x-request-id': refused })).toBe(401);

    const api = system.apis[0]!;
    await api.waitForOutput(new RegExp(`"requestId":"${refused}"[^\\n]*"msg":"request"`));
    const access = linesOf(api).filter((l) => l.msg === 'request');
    expect(access.filter((l) => l.requestId === opened)).toEqual([
      expect.objectContaining({ level: 30, method: 'GET', path: `/v1/jobs/${job.id}/stream`, status: 101, durationMs: expect.any(Number), principal: expect.objectContaining({ kind: 'bootstrap' }) }),
    ]);
    expect(access.filter((l) => l.requestId === refused)).toEqual([expect.objectContaining({ path: `/v1/jobs/${job.id}/stream`, status: 401, durationMs: expect.any(Number) })]);
    // The agent's connection is an upgrade too: its line, 101, on the agent endpoint.
    expect(access.find((l) => l.path === '/v1/agent/connect')).toMatchObject({ status: 101, requestId: expect.any(String) });
    expect(api.output).not.toContain(CANARY_SECRET);
  });

  it('the worker writes a line when a job starts and when it ends (local and agent jobs), at info', async () => {
    const local = await system.client.submit({ command: 'echo hi; exit 3', target: { type: 'local' } });
    const onAgent = await system.client.submit({ command: 'echo there', target: { type: 'agent', agent: 'log-agent' } });
    expect((await system.client.waitForEnd(local.id)).exitCode).toBe(3);
    expect((await system.client.waitForEnd(onAgent.id)).status).toBe('succeeded');
    const worker = system.workers[0]!;
    // The agent job's end is written by the API node: the worker reads it once its wait is over.
    await waitFor('the agent job\'s end line', () => linesOf(worker).some((l) => l.msg === 'job ended' && l.jobId === onAgent.id) || undefined, 60_000);
    const lines = linesOf(worker);
    const started = lines.find((l) => l.msg === 'job started' && l.jobId === local.id);
    expect(started).toMatchObject({ service: 'worker', level: 30, target: 'local', workerId: expect.any(String), attempt: 1 });
    const ended = lines.find((l) => l.msg === 'job ended' && l.jobId === local.id);
    expect(ended).toMatchObject({ level: 30, target: 'local', status: 'failed', exitCode: 3, durationMs: expect.any(Number), workerId: started!.workerId });
    expect(lines.find((l) => l.msg === 'job started' && l.jobId === onAgent.id)).toMatchObject({ target: 'agent', agentId: expect.any(String), agent: 'log-agent' });
    expect(lines.filter((l) => l.msg === 'job ended' && l.jobId === onAgent.id)).toEqual([expect.objectContaining({ status: 'succeeded', exitCode: 0, target: 'agent' })]);
    // The command, its output and its environment are never in a log line.
    expect(worker.output).not.toContain('echo hi');

    // The agent's own lines: the same schema, service "agent", with the job's id.
    const agentLines = linesOf(agent);
    expect(agentLines.find((l) => l.msg === 'connected')).toMatchObject({ service: 'agent', level: 30, agentId: expect.any(String) });
    expect(agentLines.find((l) => l.msg === 'job ended' && l.jobId === onAgent.id)).toMatchObject({ service: 'agent', exitCode: 0 });
  });

  it('an SSH host-key refusal is a warning naming the host and the reason', async () => {
    const job = await system.client.submit({ command: 'echo never', target: { type: 'ssh', host: 'moved-box@logs' } });
    expect(await system.client.waitForEnd(job.id)).toMatchObject({ status: 'failed', error: { code: 'host_key_mismatch' } });
    const worker = system.workers[0]!;
    await waitFor('the refused job\'s end line', () => linesOf(worker).find((l) => l.jobId === job.id && l.level === 40), 30_000);
    const line = linesOf(worker).find((l) => l.jobId === job.id && l.level === 40)!;
    expect(line).toMatchObject({ target: 'ssh', host: 'moved-box@logs', hostId: expect.any(String), status: 'failed', errorCode: 'host_key_mismatch' });
    expect(String(line.error)).toMatch(/key/i);
  });

  it('no line of any of them is off the schema', () => {
    for (const proc of [...system.apis, ...system.workers, agent]) expect(linesOf(proc).length).toBeGreaterThan(0);
  });
});
