/**
 * Issue 17, protocol/SHELL.md §S7 input: with VMO_SHELL_RECORD_INPUT=true the bytes clients type
 * are recorded (stream 0) by the node relaying them to the terminal, on an agent and on an SSH
 * host, and GET /v1/sessions/{id}/logs?stream=input gives them back in order. Real API, agent,
 * sshd, Postgres and Redis. (Off, the default, stores none: shell/agent-shell.e2e.test.ts.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, knownHostsLine, startSshd, TcpProxy, TestSystem, waitFor, type Sshd } from '@vmo/testkit';
import { opened, openShell, type ShellClient } from './shell-client.ts';

describe('VMO_SHELL_RECORD_INPUT=true (SHELL.md §S7)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let proxy: TcpProxy;
  let sshd: Sshd;
  let dir: string;
  let url: string;
  const open: ShellClient[] = [];
  const track = (c: ShellClient) => (open.push(c), c);
  const logs = async (session: string, stream?: 'input' | 'output') => {
    const res = await fetch(`${url}/v1/sessions/${session}/logs${stream ? `?stream=${stream}` : ''}`, { headers: { authorization: `Bearer ${system.token}` } });
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer()).toString('utf8');
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmo-record-input-'));
    const userKey = await generateKey(dir, 'user_key');
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${await knownHostsLine(sshd, { hashed: true })}\n`);
    system = await TestSystem.start({ label: 'shell_record_input', env: { VMO_SHELL_RECORD_INPUT: 'true', VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: dir } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    url = system.apiUrls[0]!;
    proxy = await TcpProxy.start(Number(new URL(url).port));
    const res = await system.client.request('POST', '/v1/hosts', { name: 'box', environment: 'e2e', host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: userKey.privatePath });
    expect(res.status, res.text).toBe(201);
  }, 180_000);

  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    proxy?.restore();
    await proxy?.close();
    await sql?.end({ timeout: 5 });
    await system?.stop();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('agent: the typed bytes are the input recording, in order, across the agent reconnecting (offsets continue from the stored end)', async () => {
    const agent = await system.startAgent('flaky', { servers: [proxy.url] });
    const c = track(opened(await openShell(url, 'flaky', system.token)));
    const typed = ['echo typed-$((1+2))\r', 'echo more-$((2+2))\r', 'echo after-$((3+3)); exit 4\r'];
    c.send(typed[0]!);
    c.send(typed[1]!);
    await c.waitForText('more-4');
    // The node relaying input changes (a new agent connection, a new relay): numbering must continue.
    proxy.cut();
    await system.waitForAgentStatus(agent.id, 'offline', 30_000);
    proxy.restore();
    await system.waitForAgentStatus(agent.id, 'online', 60_000);
    c.send(typed[2]!);
    expect(await c.waitForExit(60_000)).toMatchObject({ code: 4 });
    const session = c.hello.session;
    await waitFor('input recorded', async () => ((await logs(session, 'input')) === typed.join('') ? true : undefined), 20_000, 100).catch(async (err: Error) => {
      throw new Error(`${err.message}; got ${JSON.stringify(await logs(session, 'input'))}`);
    });
    const rows = await sql<{ offset: string; n: number }[]>`select "offset", length(data) as n from shell_output where session_id = ${session} and stream = 0 order by "offset"`;
    // Dense: each chunk starts where the previous ended (no overwrite, no gap after the reconnect).
    let end = 0;
    for (const r of rows) {
      expect(Number(r.offset)).toBe(end);
      end += r.n;
    }
    // The output recording is untouched by it: still exactly what the client received.
    expect(await logs(session)).toBe(c.text());
    expect(await logs(session, 'output')).toBe(c.text());
  });

  it('SSH host: the typed bytes are recorded too', async () => {
    const c = track(opened(await openShell(url, 'box@e2e', system.token, {}, 'hosts')));
    c.send('echo host-$((5*5))\r');
    await c.waitForText('host-25');
    c.send('exit 2\r');
    expect(await c.waitForExit()).toMatchObject({ code: 2 });
    await waitFor('host input recorded', async () => ((await logs(c.hello.session, 'input')) === 'echo host-$((5*5))\rexit 2\r' ? true : undefined), 20_000, 100);
  });

  it('a bad stream is 400', async () => {
    const res = await system.client.request('GET', '/v1/sessions/shs_00000000000000000000/logs?stream=both');
    expect(res.status).toBe(400);
  });
});
