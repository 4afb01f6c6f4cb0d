/**
 * Issue 17, protocol/SHELL.md for SSH hosts: `GET /v1/hosts/{id}/shell`, an interactive shell on a
 * host with no agent, through a real API (which holds the session: shells/host-shells.ts), worker,
 * Postgres, Redis and a real OpenSSH sshd. Same protocol and recording as the agent shell
 * (shell/agent-shell.e2e.test.ts); tests name the section they check.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, knownHostsLine, startSshd, TestSystem, waitFor, type ApiClient, type Sshd } from '@vmo/testkit';
import { opened, openShell, type ShellClient } from './shell/shell-client.ts';

const GRACE_MS = 3_000;
const run = promisify(execFile);

/** Processes whose command line contains `pattern` (pgrep -f), this test's own pgrep excepted. */
async function pgrep(pattern: string): Promise<number[]> {
  try {
    const { stdout } = await run('pgrep', ['-f', pattern]);
    return stdout.split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // exit 1: none
  }
}

describe('shell on an SSH host (SHELL.md, hosts)', () => {
  let system: TestSystem;
  let sshd: Sshd;
  let dir: string;
  let sql: postgres.Sql;
  let admin: ApiClient;
  let url: string;
  const token = () => system.token;
  const shell = async (query: Record<string, string | number> = {}, as = token(), host = 'box@e2e'): Promise<ShellClient> => track(opened(await openShell(url, host, as, query, 'hosts')));
  const open: ShellClient[] = [];
  const track = (c: ShellClient) => (open.push(c), c);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmo-host-shell-'));
    const userKey = await generateKey(dir, 'user_key');
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${await knownHostsLine(sshd, { hashed: true })}\n`);
    system = await TestSystem.start({ label: 'host_shell', env: { VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: dir, VMO_SHELL_GRACE_MS: String(GRACE_MS) } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    admin = system.client;
    url = system.apiUrls[0]!;
    for (const [name, team] of [['box', 'a'], ['other', 'b']]) {
      const res = await admin.request('POST', '/v1/hosts', { name, environment: 'e2e', host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: userKey.privatePath, labels: { team } });
      expect(res.status, res.text).toBe(201);
    }
  }, 180_000);

  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    await sql?.end({ timeout: 5 });
    await system?.stop();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('§S2 echo, §S1 stty size is the requested size and follows a resize', async () => {
    const c = await shell({ cols: 91, rows: 33 });
    expect(c.hello).toMatchObject({ offset: 0, reset: false });
    c.send('echo $((6*7))ok\r');
    await c.waitForText('42ok');
    c.send('stty size; echo size-done\r');
    await c.waitForText(/33 91\r\n[\s\S]*size-done/);
    c.control({ type: 'resize', cols: 120, rows: 40 });
    c.send('stty size; echo again-done\r');
    await c.waitForText(/40 120\r\n[\s\S]*again-done/);
    c.control({ type: 'close' });
    expect((await c.closed).code).toBe(1000);
  });

  it('§S6 sleep 30 then Ctrl-C: $? is 130, promptly', async () => {
    const c = await shell();
    c.send('sleep 30\r');
    await c.waitForText('sleep 30');
    await waitFor('sleep running on the host', async () => ((await pgrep('^sleep 30$')).length > 0) || undefined, 10_000, 50);
    const sent = Date.now();
    c.send('\x03');
    c.send('echo "status=$?"\r');
    await c.waitForText('status=130', 10_000);
    expect(Date.now() - sent).toBeLessThan(10_000); // generous: a shared machine; the second is measured, not asserted
    c.ws.terminate();
  });

  it('§S2 exit 7 gives exit {code: 7}, close 1000; §S7 recorded: the logs are the bytes the client received, audited open and close', async () => {
    const c = await shell();
    c.send('printf "recorded-%s\\n" one two; exit 7\r');
    expect(await c.waitForExit()).toEqual({ type: 'exit', code: 7, signal: null });
    expect((await c.closed).code).toBe(1000);
    const [row] = await sql`select * from shell_sessions where id = ${c.hello.session}`;
    expect(row).toMatchObject({ target_kind: 'host', target_name: 'box@e2e', exit_code: 7 });
    expect(row!['ended_at']).not.toBeNull();
    expect(c.text()).toContain('recorded-two');
    const logs = await fetch(`${url}/v1/sessions/${c.hello.session}/logs`, { headers: { authorization: `Bearer ${token()}` } });
    expect(logs.status).toBe(200);
    expect(Buffer.from(await logs.arrayBuffer()).equals(c.bytes())).toBe(true);
    const audit = await sql`select action, actor_kind from audit_events where resource_id = ${c.hello.session} order by id`;
    expect(audit.map((a) => a['action'])).toEqual(['shell.open', 'shell.close']);
    const list = await admin.request('GET', '/v1/sessions?target=box@e2e&limit=500');
    expect(list.status, list.text).toBe(200);
    expect(list.body.items.find((s: { id: string }) => s.id === c.hello.session)).toMatchObject({ exitCode: 7, target: { kind: 'host', name: 'box@e2e' } });
  });

  it('§S1 `command` runs instead of the login shell, with a pty', async () => {
    const c = await shell({ command: 'test -t 0 && echo is-a-tty; exit 3' });
    expect(await c.waitForExit()).toEqual({ type: 'exit', code: 3, signal: null });
    expect(c.text()).toContain('is-a-tty');
  });

  it('§S3 a socket killed mid-output and reopened with session + offset receives the missed output exactly once', async () => {
    const first = await shell();
    // The second half waits 3 s: a starved test process could otherwise read the whole output
    // (all-10-done included) before it kills the socket, and the reattach would have nothing to get.
    first.send('for i in $(seq 1 2000); do echo "line-$i"; done; sleep 3; for i in $(seq 2001 4000); do echo "line-$i"; done; echo all-$((2*5))-done\r');
    await first.waitForText('line-500');
    first.ws.terminate();
    const offset = first.offset();
    const again = await shell({ session: first.hello.session, offset });
    expect(again.hello).toMatchObject({ session: first.hello.session, offset, reset: false });
    await again.waitForText('all-10-done');
    const text = Buffer.concat([first.bytes(), again.bytes()]).toString('utf8');
    const lines = [...text.matchAll(/line-(\d+)\r\n/g)].map((m) => `line-${m[1]}`);
    expect(lines).toEqual(Array.from({ length: 4000 }, (_, i) => `line-${i + 1}`));
    again.ws.terminate();
  });

  it('§S4 two clients on one session both see the output', async () => {
    const a = await shell();
    const b = await shell({ session: a.hello.session, offset: a.offset() });
    a.send('echo from-$((1+1))-a\r');
    await a.waitForText('from-2-a');
    await b.waitForText('from-2-a');
    b.send('echo from-$((2+1))-b\r');
    await a.waitForText('from-3-b');
    a.ws.terminate();
    b.ws.terminate();
  });

  it('§S4 a detached session is reaped after the grace: ended SIGHUP, nothing of it left on the host', async () => {
    const c = await shell();
    c.send('sleep 100423\r');
    await waitFor('marker running on the host', async () => ((await pgrep('^sleep 100423$')).length > 0) || undefined, 10_000, 50);
    c.control({ type: 'close' });
    await c.closed;
    const row = await waitFor('session reaped', async () => {
      const [r] = await sql`select ended_at, signal from shell_sessions where id = ${c.hello.session}`;
      return r?.['ended_at'] ? r : undefined;
    }, GRACE_MS + 20_000, 100);
    expect(row['signal']).toBe('SIGHUP');
    await waitFor('marker gone from the host', async () => ((await pgrep('^sleep 100423$')).length === 0) || undefined, 10_000, 100);
    const refused = await openShell(url, 'box@e2e', token(), { session: c.hello.session, offset: 0 }, 'hosts');
    expect('refused' in refused && refused.refused).toBe(404);
  });

  it('§S1 a viewer gets 403 and a hidden host 404, before the upgrade; nothing recorded', async () => {
    for (const [name, role] of [['vic', 'viewer'], ['ann', 'operator']]) expect((await admin.request('POST', '/v1/users', { name, role })).status).toBe(201);
    expect((await admin.request('POST', '/v1/policies', { name: 'ann-a', subjects: { users: ['ann'] }, actions: ['run'], targets: 'team=a' })).status).toBe(201);
    expect((await admin.request('POST', '/v1/policies', { name: 'vic-a', subjects: { users: ['vic'] }, actions: ['read'], targets: 'team=a' })).status).toBe(201);
    const tokenOf = async (user: string) => (await admin.request('POST', '/v1/tokens', { name: `${user} shell`, user })).body.token as string;
    const [vic, ann] = [await tokenOf('vic'), await tokenOf('ann')];
    const before = Number((await sql`select count(*)::int as n from shell_sessions`)[0]!['n']);
    const viewer = await openShell(url, 'box@e2e', vic, {}, 'hosts');
    expect('refused' in viewer && viewer.refused).toBe(403);
    const hidden = await openShell(url, 'other@e2e', ann, {}, 'hosts');
    expect('refused' in hidden && hidden.refused).toBe(404);
    const none = await openShell(url, 'nobody@e2e', ann, {}, 'hosts');
    expect('refused' in none && none.refused).toBe(404);
    expect(JSON.parse((hidden as { body: string }).body).error.code).toBe(JSON.parse((none as { body: string }).body).error.code);
    expect(Number((await sql`select count(*)::int as n from shell_sessions`)[0]!['n'])).toBe(before);
    // A bare name resolves among the hosts the caller may read: `box` is ann's, `other` nobody's to her.
    const mine = await shell({}, ann, 'box');
    mine.send('echo ann-$((5*5))\r');
    await mine.waitForText('ann-25');
    mine.ws.terminate();
  });
});
