/**
 * Issue 17, protocol/SHELL.md: an interactive shell on a real agent with a real PTY (node-pty),
 * through a real API, worker, Postgres and Redis. Tests name the section they check.
 */
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeShellOutputFrame, PROTOCOL_VERSION } from '@vmo/shared/protocol';
import { openWebSocket, registerSimAgents, TcpProxy, TestSystem, waitFor, type ApiClient } from '@vmo/testkit';
import { opened, openShell, type ShellClient } from './shell-client.ts';

const GRACE_MS = 3_000;

describe('shell on an agent (SHELL.md)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let admin: ApiClient;
  let url: string;
  const token = () => system.token;
  const shell = async (query: Record<string, string | number> = {}, as = token()): Promise<ShellClient> => opened(await openShell(url, 'box', as, query));
  const open: ShellClient[] = [];
  const track = (c: ShellClient) => (open.push(c), c);

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'agent_shell', env: { VMO_SHELL_GRACE_MS: String(GRACE_MS) } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    admin = system.client;
    url = system.apiUrls[0]!;
    await system.startAgent('box', { labels: { team: 'a' } });
    await system.startAgent('other', { labels: { team: 'b' } });
  }, 180_000);

  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  it('§S2 echo, §S1 stty size is the requested size and follows a resize', async () => {
    const c = track(await shell({ cols: 91, rows: 33 }));
    expect(c.hello.offset).toBe(0);
    expect(c.hello.reset).toBe(false);
    c.send('echo $((6*7))ok\r');
    await c.waitForText('42ok');
    c.send('stty size; echo size-done\r');
    await c.waitForText(/33 91\r\n[\s\S]*size-done/);
    c.control({ type: 'resize', cols: 120, rows: 40 });
    // The resize goes through the bus like the input after it: it lands first.
    c.send('stty size; echo again-done\r');
    await c.waitForText(/40 120\r\n[\s\S]*again-done/);
    c.control({ type: 'close' });
    expect((await c.closed).code).toBe(1000);
  });

  it('§S6 sleep 30 then Ctrl-C: $? is 130', async () => {
    const c = track(await shell());
    c.send('sleep 30\r');
    await waitFor('sleep in the pty', async () => (await sql`select 1 from shell_sessions where id = ${c.hello.session}`).length > 0, 10_000);
    await c.waitForText('sleep 30');
    const sent = Date.now();
    c.send('\x03');
    c.send('echo "status=$?"\r');
    await c.waitForText('status=130', 10_000);
    // Generous: the machine is shared; the real bound (a second) is measured, not asserted.
    expect(Date.now() - sent).toBeLessThan(10_000);
    c.ws.terminate();
  });

  it('§S2 exit 7 gives exit {code: 7}, close 1000; §S7 the session is recorded with the bytes the client received', async () => {
    const c = track(await shell());
    c.send('printf "recorded-%s\\n" one two; exit 7\r');
    const exit = await c.waitForExit();
    expect(exit).toEqual({ type: 'exit', code: 7, signal: null });
    expect((await c.closed).code).toBe(1000);
    const [row] = await sql`select * from shell_sessions where id = ${c.hello.session}`;
    expect(row!['exit_code']).toBe(7);
    expect(row!['ended_at']).not.toBeNull();
    expect(row!['user_name']).toBeTruthy();
    const stored = Buffer.concat((await sql`select data from shell_output where session_id = ${c.hello.session} and stream = 1 order by "offset"`).map((r) => r['data'] as Buffer));
    expect(stored.equals(c.bytes())).toBe(true);
    expect(c.text()).toContain('recorded-two');
    const audit = await sql`select action from audit_events where resource_id = ${c.hello.session} order by id`;
    expect(audit.map((a) => a['action'])).toEqual(['shell.open', 'shell.close']);
    // §S7 the REST view of the recording.
    const logs = await fetch(`${url}/v1/sessions/${c.hello.session}/logs`, { headers: { authorization: `Bearer ${token()}` } });
    expect(logs.status).toBe(200);
    expect(Buffer.from(await logs.arrayBuffer()).equals(c.bytes())).toBe(true);
    // VMO_SHELL_RECORD_INPUT is off (the default): nothing typed is stored, the input recording is empty.
    expect((await sql`select count(*)::int as n from shell_output where session_id = ${c.hello.session} and stream = 0`)[0]!['n']).toBe(0);
    const input = await fetch(`${url}/v1/sessions/${c.hello.session}/logs?stream=input`, { headers: { authorization: `Bearer ${token()}` } });
    expect([input.status, (await input.arrayBuffer()).byteLength]).toEqual([200, 0]);
    const list = await admin.request('GET', '/v1/sessions?target=box&limit=500');
    expect(list.status, list.text).toBe(200);
    expect(list.body.items.find((s: { id: string }) => s.id === c.hello.session)).toMatchObject({ exitCode: 7, target: { kind: 'agent', name: 'box' } });
    expect((await admin.request('GET', '/v1/sessions?cols=1')).status).toBe(400);
    expect((await admin.request('GET', '/v1/sessions/shs_00000000000000000000/logs')).status).toBe(404);
  });

  it('§S3 a socket killed mid-output and reopened with session + offset receives the missed output exactly once', async () => {
    const first = track(await shell());
    // The second half waits 3 s: a starved test process could otherwise read the whole output
    // (all-10-done included) before it kills the socket, and the reattach would have nothing to get.
    first.send('for i in $(seq 1 2000); do echo "line-$i"; done; sleep 3; for i in $(seq 2001 4000); do echo "line-$i"; done; echo all-$((2*5))-done\r');
    await first.waitForText('line-500');
    first.ws.terminate();
    const offset = first.offset();
    const again = track(await shell({ session: first.hello.session, offset }));
    expect(again.hello).toMatchObject({ session: first.hello.session, offset, reset: false });
    await again.waitForText('all-10-done');
    const text = Buffer.concat([first.bytes(), again.bytes()]).toString('utf8');
    // Each output line ends in CRLF; the echoed command has `line-$i`, never digits.
    const lines = [...text.matchAll(/line-(\d+)\r\n/g)].map((m) => `line-${m[1]}`);
    expect(lines).toEqual(Array.from({ length: 4000 }, (_, i) => `line-${i + 1}`));
    again.ws.terminate();
  });

  it('§S3 an offset older than the ring gets reset: true and the ring', async () => {
    const c = track(await shell());
    // 2 MiB, past the 1 MiB ring.
    c.send('head -c 2097152 /dev/zero | tr "\\0" x; echo; echo ring-$((1+1))-done\r');
    await c.waitForText('ring-2-done', 60_000);
    const again = track(await shell({ session: c.hello.session, offset: 0 }));
    expect(again.hello.reset).toBe(true);
    expect(again.hello.offset).toBeGreaterThan(0);
    await again.waitForText('ring-2-done');
    // The ring's bytes are the end of what the first client has.
    expect(c.bytes().subarray(again.hello.offset).subarray(0, again.bytes().length).equals(again.bytes().subarray(0, c.bytes().length - again.hello.offset))).toBe(true);
    c.ws.terminate();
    again.ws.terminate();
  });

  it('§S4 two clients on one session both see the output', async () => {
    const a = track(await shell());
    const b = track(await shell({ session: a.hello.session, offset: a.offset() }));
    a.send('echo from-$((1+1))-a\r');
    await a.waitForText('from-2-a');
    await b.waitForText('from-2-a');
    b.send('echo from-$((2+1))-b\r');
    await a.waitForText('from-3-b');
    a.ws.terminate();
    b.ws.terminate();
  });

  it('§S4 a detached session is reaped after the grace (PTY killed, session ended)', async () => {
    const c = track(await shell());
    c.send('echo $$ > /dev/null; echo pid-$$\r');
    await c.waitForText(/pid-\d+/);
    const pid = Number(/pid-(\d+)/.exec(c.text())![1]);
    c.control({ type: 'close' });
    await c.closed;
    const row = await waitFor('session reaped', async () => {
      const [r] = await sql`select ended_at, signal from shell_sessions where id = ${c.hello.session}`;
      return r?.['ended_at'] ? r : undefined;
    }, GRACE_MS + 20_000, 100);
    expect(row['signal']).toBe('SIGHUP');
    expect(() => process.kill(pid, 0)).toThrow();
    // A reattach to it is a 404 (ended).
    const refused = await openShell(url, 'box', token(), { session: c.hello.session, offset: 0 });
    expect('refused' in refused && refused.refused).toBe(404);
  });

  it('§S4 reaping kills what ignores SIGHUP in its own process group too (SIGHUP, then SIGKILL)', async () => {
    const c = track(await shell());
    c.send(`sh -c 'trap "" HUP; exec sleep 100417' & echo bg-pid-$!\r`);
    await c.waitForText(/bg-pid-\d+/);
    const pid = Number(/bg-pid-(\d+)/.exec(c.text())![1]);
    // Alive and not a zombie (an unreaped zombie under a container's init is as good as gone).
    const alive = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    c.control({ type: 'close' });
    await c.closed;
    await waitFor('session reaped', async () => (await sql`select ended_at from shell_sessions where id = ${c.hello.session}`)[0]?.['ended_at'] ?? undefined, GRACE_MS + 20_000, 100);
    await waitFor('HUP-ignoring process killed', () => !alive() || undefined, 15_000, 100).catch((err: Error) => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      throw err;
    });
  });

  it('§S5 a shell that ends while its agent is disconnected: on reconnect its last output and exit arrive, the row ends', async () => {
    const proxy = await TcpProxy.start(Number(new URL(url).port));
    try {
      await system.startAgent('flaky', { servers: [proxy.url], labels: { team: 'a' } });
      const c = track(opened(await openShell(url, 'flaky', token())));
      c.send('echo pid-$$\r');
      await c.waitForText(/pid-\d+/);
      const pid = Number(/pid-(\d+)/.exec(c.text())![1]);
      // It prints and exits 3 s later, while the agent's connection is cut.
      c.send(`sleep 3; printf 'tail-%s\\n' $((6*7)); exit 3\r`);
      await c.waitForText('exit 3');
      proxy.cut();
      await waitFor('shell exited while disconnected', () => {
        try {
          process.kill(pid, 0);
          return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1')) ? undefined : true;
        } catch {
          return true;
        }
      }, 20_000, 100);
      proxy.restore();
      expect(await c.waitForExit(60_000)).toEqual({ type: 'exit', code: 3, signal: null });
      expect(c.text()).toContain('tail-42');
      const [row] = await sql`select ended_at, exit_code from shell_sessions where id = ${c.hello.session}`;
      expect(row!['exit_code']).toBe(3);
    } finally {
      proxy.restore();
      await proxy.close();
    }
  });

  it('§S6 a client that stops reading while yes runs: the PTY is paused, what the server holds stays bounded', async () => {
    const c = track(await shell());
    c.send('yes | tr -d "\\n"\r');
    await c.waitForText('yyyy');
    // Stop reading: the kernel's buffers fill, then ws's, then acks stop and the agent pauses the PTY.
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const produced = async () => Number((await sql`select recorded_bytes from shell_sessions where id = ${c.hello.session}`)[0]!['recorded_bytes']);
    // The recording counts every byte the agent sent: once it stops growing, the PTY is paused.
    let last = -1;
    const plateau = await waitFor('output paused', async () => {
      const now = await produced();
      const stable = now === last;
      last = now;
      return stable ? now : undefined;
    }, 60_000, 1_500);
    const received = c.bytes().length;
    // What is beyond the client: the window (256 KiB), the API's socket under its high watermark,
    // and the kernel's loopback buffers (a few MiB at most). Nothing grows with time.
    expect(plateau - received).toBeLessThan(16 * 1024 * 1024);
    await new Promise((r) => setTimeout(r, 3_000)); // a sample interval, not a wait for an event
    expect(await produced()).toBe(plateau);
    // Ctrl-C still interrupts a paused PTY: resume reading and get a prompt back.
    c.send('\x03');
    (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    c.send('echo after-$((3+4))\r');
    await c.waitForText('after-7', 60_000);
    c.ws.terminate();
  });

  it('§S1 an open shell closes 4401 when its token is revoked and 4404 when its policy is withdrawn; input stops, the session detaches', async () => {
    for (const name of ['rita', 'paul']) expect((await admin.request('POST', '/v1/users', { name, role: 'operator' })).status).toBe(201);
    const policy = await admin.request('POST', '/v1/policies', { name: 'paul-a', subjects: { users: ['paul'] }, actions: ['run'], targets: 'team=a' });
    expect(policy.status).toBe(201);
    expect((await admin.request('POST', '/v1/policies', { name: 'rita-a', subjects: { users: ['rita'] }, actions: ['run'], targets: 'team=a' })).status).toBe(201);
    const made = async (user: string) => (await admin.request('POST', '/v1/tokens', { name: `${user} shell`, user })).body as { id: string; token: string };
    const [rita, paul] = [await made('rita'), await made('paul')];
    const c = track(opened(await openShell(url, 'box', rita.token)));
    c.send('echo rita-$((2*3))\r');
    await c.waitForText('rita-6');
    expect((await admin.request('DELETE', `/v1/tokens/${rita.id}`)).status).toBe(204);
    expect((await c.closed).code).toBe(4401);
    // Detached: with no attachment left the session is reaped after the grace, its PTY gone.
    await waitFor('revoked shell reaped', async () => (await sql`select ended_at from shell_sessions where id = ${c.hello.session}`)[0]?.['ended_at'] ?? undefined, GRACE_MS + 20_000, 100);

    const p = track(opened(await openShell(url, 'box', paul.token)));
    p.send('echo paul-$((2*4))\r');
    await p.waitForText('paul-8');
    expect((await admin.request('DELETE', `/v1/policies/${policy.body.id}`)).status).toBe(204);
    expect((await p.closed).code).toBe(4404);
  });

  it('§S5 an agent naming another agent\'s session is cut off (1008): nothing reaches that terminal, its recording or its end', async () => {
    const victim = track(await shell());
    victim.send('echo victim-$((3*3))\r');
    await victim.waitForText('victim-9');
    const [rogue] = await registerSimAgents(system.databaseUrl, 1, { prefix: 'rogue' });
    const conn = await openWebSocket(`${url}/v1/agent/connect`, { token: rogue!.token });
    if (conn.kind !== 'open') throw new Error(`rogue agent refused: ${conn.status}`);
    conn.ws.send(JSON.stringify({ type: 'hello', v: PROTOCOL_VERSION, agentVersion: 'rogue-1', hostname: 'rogue', os: 'linux', arch: 'x64', jobs: [], features: ['shell'] }));
    await waitFor('rogue welcomed', () => conn.texts.some((t) => t.includes('"welcome"')) || undefined, 20_000, 10);
    conn.ws.send(encodeShellOutputFrame({ session: victim.hello.session, offset: victim.offset(), data: Buffer.from('INJECTED\r\n') }), { binary: true });
    conn.ws.send(JSON.stringify({ type: 'shell_exit', v: PROTOCOL_VERSION, session: victim.hello.session, code: 0, signal: null }));
    expect((await conn.closed).code).toBe(1008);
    // The victim's shell is untouched: still open, its next output arrives, nothing injected or recorded.
    victim.send('echo still-$((4*4))\r');
    await victim.waitForText('still-16');
    expect(victim.text()).not.toContain('INJECTED');
    const [row] = await sql`select ended_at from shell_sessions where id = ${victim.hello.session}`;
    expect(row!['ended_at']).toBeNull();
    const recorded = Buffer.concat((await sql`select data from shell_output where session_id = ${victim.hello.session} order by "offset"`).map((r) => r['data'] as Buffer));
    expect(recorded.toString('utf8')).not.toContain('INJECTED');
    victim.ws.terminate();
  });

  it('§S1 a viewer gets 403 and another team\'s machine 404, before the upgrade; nothing recorded', async () => {
    for (const [name, role] of [['vic', 'viewer'], ['ann', 'operator']]) expect((await admin.request('POST', '/v1/users', { name, role })).status).toBe(201);
    expect((await admin.request('POST', '/v1/policies', { name: 'ann-a', subjects: { users: ['ann'] }, actions: ['run'], targets: 'team=a' })).status).toBe(201);
    expect((await admin.request('POST', '/v1/policies', { name: 'vic-a', subjects: { users: ['vic'] }, actions: ['read'], targets: 'team=a' })).status).toBe(201);
    const tokenOf = async (user: string) => (await admin.request('POST', '/v1/tokens', { name: `${user} shell`, user })).body.token as string;
    const [vic, ann] = [await tokenOf('vic'), await tokenOf('ann')];
    const before = Number((await sql`select count(*)::int as n from shell_sessions`)[0]!['n']);
    const viewer = await openShell(url, 'box', vic);
    expect('refused' in viewer && viewer.refused).toBe(403);
    const other = await openShell(url, 'other', ann);
    expect('refused' in other && other.refused).toBe(404);
    const none = await openShell(url, 'nobody-here', ann);
    expect('refused' in none && none.refused).toBe(404);
    // The same 404 for another team's machine as for none (no existence oracle), except the name.
    expect(JSON.parse((other as { body: string }).body).error.code).toBe(JSON.parse((none as { body: string }).body).error.code);
    const bad = await openShell(url, 'box', ann, { cols: 0 });
    expect('refused' in bad && bad.refused).toBe(400);
    expect((bad as { body: string }).body).toContain('cols');
    expect(Number((await sql`select count(*)::int as n from shell_sessions`)[0]!['n'])).toBe(before);
    // Her own shell on team a works.
    const mine = track(opened(await openShell(url, 'box', ann)));
    mine.send('echo ann-$((5*5))\r');
    await mine.waitForText('ann-25');
    // She cannot take over the admin's session.
    const admins = track(await shell());
    const stolen = await openShell(url, 'box', ann, { session: admins.hello.session, offset: 0 });
    expect('refused' in stolen && stolen.refused).toBe(404);
    mine.ws.terminate();
    admins.ws.terminate();
  });
});

describe('shell opens count against VMO_SUBMIT_RATE (review finding 5)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let url: string;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'agent_shell_rate', env: { VMO_SUBMIT_RATE: '3/5m' } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    url = system.apiUrls[0]!;
    await system.startAgent('box');
  }, 180_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  it('a new session counts with POST /v1/jobs; past the limit 429 with Retry-After before the 101, audited, no session; a reattach does not count', async () => {
    const sessions = async () => Number((await sql`select count(*)::int as n from shell_sessions`)[0]!['n']);
    const first = opened(await openShell(url, 'box', system.token));
    const second = opened(await openShell(url, 'box', system.token));
    expect((await system.client.request('POST', '/v1/jobs', { command: 'true', target: { type: 'local' } })).status).toBe(201);
    // The budget (3) is spent: reattaching to a session spawns nothing and still works.
    first.ws.terminate();
    const again = opened(await openShell(url, 'box', system.token, { session: first.hello.session, offset: first.offset() }));
    expect(again.hello.session).toBe(first.hello.session);
    const before = await sessions();
    const refused = await openShell(url, 'box', system.token);
    if (!('refused' in refused)) throw new Error('a shell past VMO_SUBMIT_RATE was opened');
    expect([refused.refused, JSON.parse(refused.body).error.code]).toEqual([429, 'rate_limited']);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(await sessions()).toBe(before);
    const audit = await sql`select result, resource_type from audit_events where status = 429`;
    expect(audit.map((a) => a['result'])).toEqual(['denied']);
    // And POST /v1/jobs shares the spent budget.
    expect((await system.client.request('POST', '/v1/jobs', { command: 'true', target: { type: 'local' } })).status).toBe(429);
    again.ws.terminate();
    second.ws.terminate();
  });
});
