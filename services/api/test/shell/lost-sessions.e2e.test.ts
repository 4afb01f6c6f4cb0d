/**
 * Issue 17, protocol/SHELL.md §S4/§S7: a session its agent lost while nobody was attached (the agent
 * crashed and restarted within the grace) is ended once the agent is back (the API asks it about
 * every open session: gateway/shell-relay-holder.ts probeOpenSessions), audited `shell.close` as
 * lost; a session an agent still holds across a reconnect is left alone. Without this the row stayed
 * open for ever (and retention never deletes an open row). Real API, agents (node-pty), Postgres, Redis.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy, TestSystem, waitFor } from '@vmo/testkit';
import { opened, openShell, type ShellClient } from './shell-client.ts';

describe('sessions an agent lost are ended when it comes back (SHELL.md §S4)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let proxy: TcpProxy;
  let url: string;
  const open: ShellClient[] = [];
  const track = (c: ShellClient) => (open.push(c), c);
  const endedAt = async (session: string) => (await sql`select ended_at from shell_sessions where id = ${session}`)[0]?.['ended_at'] ?? null;

  beforeAll(async () => {
    // A long grace: nothing here is reaped by it.
    system = await TestSystem.start({ label: 'shell_lost', env: { VMO_SHELL_GRACE_MS: '600000' } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    url = system.apiUrls[0]!;
    proxy = await TcpProxy.start(Number(new URL(url).port));
  }, 180_000);

  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    proxy?.restore();
    await proxy?.close();
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  it('a detached session of an agent killed -9 and restarted ends as lost; a session of an agent that only reconnected lives on', async () => {
    const crashing = await system.startAgent('crashing');
    const steady = await system.startAgent('steady', { servers: [proxy.url] });

    const orphan = track(opened(await openShell(url, 'crashing', system.token)));
    orphan.send('echo before-$((2+3))\r');
    await orphan.waitForText('before-5');
    orphan.control({ type: 'close' }); // detached: in its grace, nobody attached
    await orphan.closed;

    const kept = track(opened(await openShell(url, 'steady', system.token)));
    kept.send('echo kept-$((3+4))\r');
    await kept.waitForText('kept-7');

    // The steady agent reconnects (its PTY lives on) first, so its check comes before the crashed one's.
    proxy.cut();
    await system.waitForAgentStatus(steady.id, 'offline', 30_000);
    proxy.restore();
    await system.waitForAgentStatus(steady.id, 'online', 60_000);

    await crashing.process.kill();
    await system.waitForAgentStatus(crashing.id, 'offline', 30_000);
    system.spawnAgent(crashing.token);
    await system.waitForAgentStatus(crashing.id, 'online', 60_000);

    await waitFor('the lost session ended', async () => ((await endedAt(orphan.hello.session)) ? true : undefined), 90_000, 200);
    const [close] = await sql`select actor_kind, detail from audit_events where resource_id = ${orphan.hello.session} and action = 'shell.close'`;
    expect(close).toMatchObject({ actor_kind: 'agent', detail: { lost: true, exitCode: null } });
    // A reattach to it is 404 now (it ended), not a 15 s wait for an agent that will never answer.
    const refused = await openShell(url, 'crashing', system.token, { session: orphan.hello.session, offset: 0 });
    expect('refused' in refused && refused.refused).toBe(404);

    // The session the steady agent still holds was asked about too, and is untouched.
    expect(await endedAt(kept.hello.session)).toBeNull();
    kept.send('echo still-$((4+4))\r');
    await kept.waitForText('still-8', 30_000);
    kept.ws.terminate();
  });
});
