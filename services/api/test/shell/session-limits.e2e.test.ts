/**
 * Issue 17, protocol/SHELL.md §S1 limits on opening shells: VMO_SHELL_MAX_SESSIONS_PER_TARGET
 * (sessions alive at once on one agent or host) and VMO_SUBMIT_RATE on SSH hosts' shells as on
 * agents'. Both refuse before the upgrade with a JSON 429, audited as a refusal, and leave no row.
 * Real API, agent, sshd, Postgres and Redis.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, knownHostsLine, startSshd, TestSystem, waitFor } from '@vmo/testkit';
import { opened, openShell, type ShellClient } from './shell-client.ts';

const GRACE_MS = 2_000;

/** A real sshd and a TestSystem whose API reaches it; `box@e2e` is a host on it. */
async function startWithHost(label: string, env: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), `vmo-${label}-`));
  const userKey = await generateKey(dir, 'user_key');
  const sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, `${await knownHostsLine(sshd, { hashed: true })}\n`);
  const system = await TestSystem.start({ label, env: { VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: dir, ...env } });
  const res = await system.client.request('POST', '/v1/hosts', { name: 'box', environment: 'e2e', host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: userKey.privatePath });
  if (res.status !== 201) throw new Error(`host: ${res.status} ${res.text}`);
  const sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
  return {
    system,
    sql,
    async stop() {
      await sql.end({ timeout: 5 });
      await system.stop();
      await sshd.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

type Refused = { refused: number; body: string; retryAfter?: string | undefined };
const refusal = (c: ShellClient | Refused): Refused => {
  if (!('refused' in c)) throw new Error(`a shell was opened that should have been refused (${c.hello.session})`);
  return c;
};

describe('VMO_SHELL_MAX_SESSIONS_PER_TARGET (SHELL.md §S1)', () => {
  let env: Awaited<ReturnType<typeof startWithHost>>;
  let url: string;
  const open: ShellClient[] = [];
  const track = (c: ShellClient) => (open.push(c), c);
  const shell = async (target: string, kind: 'agents' | 'hosts' = 'agents', query: Record<string, string | number> = {}) => openShell(url, target, env.system.token, query, kind);
  const rows = async () => Number((await env.sql`select count(*)::int as n from shell_sessions`)[0]!['n']);

  beforeAll(async () => {
    env = await startWithHost('shell_cap', { VMO_SHELL_MAX_SESSIONS_PER_TARGET: '2', VMO_SHELL_GRACE_MS: String(GRACE_MS) });
    url = env.system.apiUrls[0]!;
    await env.system.startAgent('box');
    await env.system.startAgent('other');
  }, 180_000);

  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    await env?.stop();
  });

  it('agent: past the cap 429 too_many_sessions before the upgrade, audited, no row; a reattach and another agent are not counted; an exit frees a slot', async () => {
    const a = track(opened(await shell('box')));
    const b = track(opened(await shell('box')));
    const before = await rows();
    const third = refusal(await shell('box'));
    expect(third.refused).toBe(429);
    expect(JSON.parse(third.body).error).toMatchObject({ code: 'too_many_sessions' });
    expect(await rows()).toBe(before);
    const [audit] = await env.sql`select result, detail from audit_events where status = 429 order by id desc limit 1`;
    expect(audit).toMatchObject({ result: 'denied', detail: { code: 'too_many_sessions' } });
    // A reattach takes no new slot.
    const again = track(opened(await shell('box', 'agents', { session: a.hello.session, offset: 0 })));
    expect(again.hello.session).toBe(a.hello.session);
    // Another machine has its own count.
    track(opened(await shell('other')));
    // One exits: its slot is free at once.
    b.send('exit 0\r');
    await b.waitForExit();
    const c = track(opened(await shell('box')));
    c.send('echo cap-$((1+1))\r');
    await c.waitForText('cap-2');
    for (const x of [a, again, c]) x.ws.terminate();
  });

  it('a detached session keeps its slot for its grace, and frees it once reaped', async () => {
    // The agents' earlier sessions were terminated (detached): wait for their reaping.
    const alive = async () => Number((await env.sql`select count(*)::int as n from shell_sessions where ended_at is null and target_name = 'box'`)[0]!['n']);
    await waitFor('earlier sessions reaped', async () => ((await alive()) === 0 ? true : undefined), GRACE_MS + 30_000, 100);
    const a = track(opened(await shell('box')));
    const b = track(opened(await shell('box')));
    b.control({ type: 'close' });
    await b.closed;
    expect(refusal(await shell('box')).refused).toBe(429);
    await waitFor('detached session reaped', async () => ((await env.sql`select ended_at from shell_sessions where id = ${b.hello.session}`)[0]?.['ended_at'] ? true : undefined), GRACE_MS + 30_000, 100);
    const c = track(opened(await shell('box')));
    expect(c.hello.session).not.toBe(b.hello.session);
    a.ws.terminate();
    c.ws.terminate();
  });

  it('SSH host: the same cap', async () => {
    const a = track(opened(await shell('box@e2e', 'hosts')));
    const b = track(opened(await shell('box@e2e', 'hosts')));
    const third = refusal(await shell('box@e2e', 'hosts'));
    expect([third.refused, JSON.parse(third.body).error.code]).toEqual([429, 'too_many_sessions']);
    a.send('exit\r');
    await a.waitForExit();
    track(opened(await shell('box@e2e', 'hosts'))).ws.terminate();
    b.ws.terminate();
  });
});

describe('VMO_SUBMIT_RATE on SSH hosts\' shells (as on agents\')', () => {
  let env: Awaited<ReturnType<typeof startWithHost>>;
  let url: string;

  beforeAll(async () => {
    env = await startWithHost('host_shell_rate', { VMO_SUBMIT_RATE: '2/5m' });
    url = env.system.apiUrls[0]!;
  }, 180_000);

  afterAll(async () => {
    await env?.stop();
  });

  it('a new host session counts with POST /v1/jobs; past the limit 429 rate_limited with Retry-After before the 101, audited, no session; a reattach does not count', async () => {
    const first = opened(await openShell(url, 'box@e2e', env.system.token, {}, 'hosts'));
    expect((await env.system.client.request('POST', '/v1/jobs', { command: 'true', target: { type: 'local' } })).status).toBe(201);
    first.ws.terminate();
    const again = opened(await openShell(url, 'box@e2e', env.system.token, { session: first.hello.session, offset: first.offset() }, 'hosts'));
    expect(again.hello.session).toBe(first.hello.session);
    const before = Number((await env.sql`select count(*)::int as n from shell_sessions`)[0]!['n']);
    const refused = refusal(await openShell(url, 'box@e2e', env.system.token, {}, 'hosts'));
    expect([refused.refused, JSON.parse(refused.body).error.code]).toEqual([429, 'rate_limited']);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(Number((await env.sql`select count(*)::int as n from shell_sessions`)[0]!['n'])).toBe(before);
    const audit = await env.sql`select result from audit_events where status = 429`;
    expect(audit.map((a) => a['result'])).toEqual(['denied']);
    again.ws.terminate();
  });
});
