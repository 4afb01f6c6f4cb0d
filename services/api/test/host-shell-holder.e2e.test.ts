/**
 * SHELL.md §S8: an SSH host's shell is held by the API node that opened it; when that node goes,
 * its sessions' rows end instead of staying open for ever. Real API processes (several), worker,
 * Postgres, Redis and an OpenSSH sshd:
 * - a node killed -9: another node finds its presence gone and ends its sessions (`server_lost`),
 *   a client attached through another node is told the session is gone (4404);
 * - a node stopped (SIGTERM): it ends its own sessions (`server_restarted`, SIGHUP) with their whole
 *   recording before it exits, and a client attached elsewhere gets the exit;
 * - every node dead: the next to start ends them;
 * - a row ended elsewhere (another node judged the holder dead while Redis could not hear it): the
 *   holder kills the terminal, so none outlives its row.
 * Each end is what GET /v1/sessions shows (endedAt, endReason) and audited once (`shell.close`).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, knownHostsLine, startSshd, TestSystem, waitFor, type Sshd } from '@vmo/testkit';
import { opened, openShell, type ShellClient } from './shell/shell-client.ts';

const run = promisify(execFile);
/** Presence TTL + confirmation + two sweeps is ~22 s (host-shell-node.ts); room for a loaded machine. */
const LOST_DEADLINE_MS = 60_000;

async function pgrep(pattern: string): Promise<number[]> {
  try {
    const { stdout } = await run('pgrep', ['-f', pattern]);
    return stdout.split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // exit 1: none
  }
}

describe('host shells outlive no API node (SHELL.md §S8)', { timeout: 240_000 }, () => {
  let system: TestSystem;
  let sshd: Sshd;
  let dir: string;
  let sql: postgres.Sql;
  const open: ShellClient[] = [];
  const shellOn = async (api: number, query: Record<string, string | number> = {}) => {
    const c = opened(await openShell(system.apiUrls[api]!, 'box@e2e', system.token, query, 'hosts'));
    open.push(c);
    return c;
  };
  const row = async (id: string) => (await sql`select * from shell_sessions where id = ${id}`)[0]!;
  const listed = async (api: number, id: string) => {
    const res = await system.clientFor(api).request('GET', '/v1/sessions?target=box@e2e&limit=500');
    expect(res.status, res.text).toBe(200);
    return (res.body.items as { id: string; endedAt: string | null; endReason: string | null; signal: string | null }[]).find((s) => s.id === id);
  };
  const closeAudits = async (id: string) => sql`select actor_kind, detail from audit_events where resource_id = ${id} and action = 'shell.close'`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmo-host-shell-holder-'));
    const userKey = await generateKey(dir, 'user_key');
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${await knownHostsLine(sshd, { hashed: true })}\n`);
    system = await TestSystem.start({ label: 'host_shell_holder', apis: 2, env: { VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: dir } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    const res = await system.client.request('POST', '/v1/hosts', { name: 'box', environment: 'e2e', host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: userKey.privatePath });
    expect(res.status, res.text).toBe(201);
  }, 180_000);

  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    await sql?.end({ timeout: 5 });
    await system?.stop();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the holder killed -9: another node ends its session (server_lost), GET /v1/sessions says so, a client attached elsewhere is told it is gone', async () => {
    const holder = await system.startApi();
    const index = system.apis.indexOf(holder);
    const c = await shellOn(index);
    c.send('sleep 100731 & echo started-$((3*3))\r');
    await c.waitForText('started-9');
    await waitFor('marker running on the host', async () => ((await pgrep('^sleep 100731$')).length > 0) || undefined, 10_000, 50);
    // A second client on the same session through node 0 (it listens on the bus; node `index` holds the terminal).
    const elsewhere = await shellOn(0, { session: c.hello.session, offset: c.offset() });
    const before = await row(c.hello.session);
    expect(before['holder_node']).toEqual(expect.any(String));
    expect(before['ended_at']).toBeNull();

    await holder.kill();
    const killedAt = Date.now();
    const ended = await waitFor('the session ended by a surviving node', async () => {
      const r = await row(c.hello.session);
      return r['ended_at'] ? r : undefined;
    }, LOST_DEADLINE_MS, 200);
    console.info(`[host-shell-holder] server_lost ${Date.now() - killedAt} ms after the kill`);
    expect(ended).toMatchObject({ end_reason: 'server_lost', exit_code: null, signal: null });
    expect(await listed(0, c.hello.session)).toMatchObject({ endedAt: expect.any(String), endReason: 'server_lost' });
    const audits = await closeAudits(c.hello.session);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actor_kind: 'system', detail: { reason: 'server_lost', node: before['holder_node'] } });
    // The client on node 0 learns the session is gone (4404), and a reattach is refused (404).
    expect((await elsewhere.closed).code).toBe(4404);
    const again = await openShell(system.apiUrls[0]!, 'box@e2e', system.token, { session: c.hello.session, offset: 0 }, 'hosts');
    expect('refused' in again && again.refused).toBe(404);
    // sshd hung the terminal up when the connection died with its process: nothing left behind.
    await waitFor('marker gone from the host', async () => ((await pgrep('^sleep 100731$')).length === 0) || undefined, 20_000, 100);
  });

  it('the holder stopped: it ends its session itself (server_restarted, SIGHUP) with its whole recording, before it exits', async () => {
    const holder = await system.startApi();
    const index = system.apis.indexOf(holder);
    const c = await shellOn(index);
    c.send('for i in $(seq 1 300); do echo "rec-$i"; done; echo rec-$((10*10))-done\r');
    await c.waitForText('rec-100-done');
    const elsewhere = await shellOn(0, { session: c.hello.session, offset: c.offset() });
    const exit = await holder.stop();
    expect(exit.code).toBe(0);
    // Ended by the time the process is gone: no sweep needed.
    const r = await row(c.hello.session);
    expect(r).toMatchObject({ end_reason: 'server_restarted', signal: 'SIGHUP', exit_code: null });
    expect(r['ended_at']).not.toBeNull();
    expect(await listed(0, c.hello.session)).toMatchObject({ endReason: 'server_restarted', signal: 'SIGHUP' });
    expect(await closeAudits(c.hello.session)).toHaveLength(1);
    // The client attached through node 0 gets the end of the shell.
    expect(await elsewhere.waitForExit()).toMatchObject({ type: 'exit', signal: 'SIGHUP' });
    // Every byte the holder's client received is in the recording (stored before the node exited).
    const logs = await fetch(`${system.apiUrls[0]}/v1/sessions/${c.hello.session}/logs`, { headers: { authorization: `Bearer ${system.token}` } });
    expect(logs.status).toBe(200);
    const stored = Buffer.from(await logs.arrayBuffer());
    expect(stored.subarray(0, c.bytes().length).equals(c.bytes())).toBe(true);
    expect(Number(r['recorded_bytes'])).toBe(stored.length);
  });

  it('a row ended elsewhere while its holder lives: the holder kills the terminal', async () => {
    const c = await shellOn(1);
    c.send('sleep 100733\r');
    await waitFor('marker running on the host', async () => ((await pgrep('^sleep 100733$')).length > 0) || undefined, 10_000, 50);
    // As a node that judged the holder dead would (host-shell-node.ts), straight in Postgres.
    await sql`update shell_sessions set ended_at = clock_timestamp(), end_reason = 'server_lost' where id = ${c.hello.session}`;
    await waitFor('marker gone from the host', async () => ((await pgrep('^sleep 100733$')).length === 0) || undefined, 30_000, 100);
    expect(await c.waitForExit(30_000)).toMatchObject({ type: 'exit', signal: 'SIGHUP' });
    expect((await row(c.hello.session))['end_reason']).toBe('server_lost'); // the first end stands
  });

  it('every API node dead: the next one to start ends their sessions', async () => {
    const c = await shellOn(1);
    c.send('echo lone-$((4*4))\r');
    await c.waitForText('lone-16');
    await Promise.all([system.apis[0]!.kill(), system.apis[1]!.kill()]);
    const next = await system.startApi();
    const index = system.apis.indexOf(next);
    const ended = await waitFor('the session ended by the next node', async () => {
      const r = await row(c.hello.session);
      return r['ended_at'] ? r : undefined;
    }, LOST_DEADLINE_MS, 200);
    expect(ended['end_reason']).toBe('server_lost');
    expect(await listed(index, c.hello.session)).toMatchObject({ endReason: 'server_lost' });
  });
});
