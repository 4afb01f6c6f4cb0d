/**
 * Issue 17: the client's shell (openShell, protocol/SHELL.md) and the sessions routes, on a real
 * system with a real agent and PTY: output continues across a connection cut by a TCP proxy
 * without a byte lost or repeated (§S3), terminal answers are dropped during a replay (§S2), the
 * exit code comes back (§S2), and the recording equals what the client received (§S7).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy, TestSystem, waitFor } from '@vmo/testkit';
import { isTerminalAnswer, VmoApiError, VmoClient, type ShellConnection } from '../src/index.ts';

describe('the client shell (real system, agent, PTY)', () => {
  let system: TestSystem;
  let proxy: TcpProxy;
  let client: VmoClient;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'client_shell' });
    await system.startAgent('sh-box');
    proxy = await TcpProxy.start(Number(new URL(system.apiUrls[0]!).port));
    client = new VmoClient({ baseUrl: proxy.url, token: system.token, validateResponses: true });
  }, 180_000);
  afterAll(async () => {
    await proxy?.close();
    await system?.stop();
  });

  it('§S3 a connection cut mid-output is reopened by itself with session + offset: every line exactly once; §S2 exit code; §S7 logs equal the bytes', async () => {
    const out: Buffer[] = [];
    const hellos: { offset: number; reset: boolean; reconnected: boolean }[] = [];
    const downs: number[] = [];
    const shell: ShellConnection = client.shell({
      agent: 'sh-box',
      cols: 100,
      rows: 30,
      onOutput: (b) => out.push(Buffer.from(b)),
      onHello: (h, i) => hellos.push({ offset: h.offset, reset: h.reset, reconnected: i.reconnected }),
      onDown: (d) => downs.push(d.closeCode ?? d.status ?? -1),
      backoff: { initialMs: 100, maxMs: 500 },
    });
    const text = () => Buffer.concat(out).toString('utf8');
    await waitFor('prompt', () => hellos.length > 0 || undefined, 30_000);
    // Paced (a pause every 100 lines), so the cut lands mid-output.
    shell.write('for i in $(seq 1 3000); do echo "line-$i"; [ $((i % 100)) = 0 ] && sleep 0.1; done; echo all-$((2*5))-done\r');
    await waitFor('output under way', () => text().includes('line-300\r') || undefined, 30_000);
    const endedBeforeTheCut = text().includes('all-10-done');
    proxy.dropOpen();
    await waitFor('the rest after the reconnect', () => text().includes('all-10-done') || undefined, 60_000);
    expect(endedBeforeTheCut).toBe(false);
    expect(downs.length).toBeGreaterThanOrEqual(1);
    expect(hellos.length).toBeGreaterThanOrEqual(2);
    expect(hellos[1]).toMatchObject({ reset: false, reconnected: true });
    const lines = [...text().matchAll(/line-(\d+)\r\n/g)].map((m) => Number(m[1]));
    expect(lines).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    shell.write('exit 4\r');
    expect(await shell.done).toEqual({ kind: 'exit', code: 4, signal: null });

    const page = await client.sessions.list({ target: 'sh-box' });
    const mine = page.items.find((s) => s.id === shell.session)!;
    expect(mine).toMatchObject({ exitCode: 4, target: { kind: 'agent', name: 'sh-box' }, cols: 100, rows: 30 });
    expect(Buffer.from(await client.sessions.logs(shell.session!)).equals(Buffer.concat(out))).toBe(true);
  });

  it('§S2 a command instead of the login shell; detach keeps the session and a reattach replays what was missed, dropping terminal answers', async () => {
    const out: Buffer[] = [];
    const first = client.shell({ agent: 'sh-box', command: 'sleep 1; echo late-$((3*3)); read x; echo "got=$x"; exit 0', onOutput: (b) => out.push(Buffer.from(b)) });
    await waitFor('hello', () => first.session, 30_000);
    first.detach();
    expect(await first.done).toMatchObject({ kind: 'detached', session: first.session });
    const again: Buffer[] = [];
    const second = client.shell({ agent: 'sh-box', session: first.session, offset: first.offset, onOutput: (b) => again.push(Buffer.from(b)) });
    await waitFor('late output, replayed', () => Buffer.concat(again).toString().includes('late-9') || undefined, 30_000);
    // A cursor position report during the replay is a terminal answering an old query: dropped.
    if (second.replaying) second.write('\x1b[12;40R');
    await waitFor('replay over', () => !second.replaying || undefined, 10_000);
    second.write('typed\r');
    expect(await second.done).toEqual({ kind: 'exit', code: 0, signal: null });
    expect(Buffer.concat(again).toString()).toContain('got=typed');
    expect(Buffer.concat(again).toString()).not.toContain('12;40R');
  });

  it('recognises terminal answers, not typing', () => {
    for (const a of ['\x1b[12;40R', '\x1b[?1;2c', '\x1b[>0;276;0c', '\x1b[0n', '\x1b]11;rgb:0000/0000/0000\x1b\\', '\x1b]10;rgb:ffff/ffff/ffff\x07', '\x1b[?2004;1$y', '\x1b[I']) expect(isTerminalAnswer(a), JSON.stringify(a)).toBe(true);
    for (const t of ['ls\r', '\x03', '\x1b[A', 'a\x1b[12;40R', '']) expect(isTerminalAnswer(t), JSON.stringify(t)).toBe(false);
  });

  it('a refused first open rejects with the API error; reattaching to an ended session is refused 404', async () => {
    const refused = client.shell({ agent: 'nobody-here', onOutput: () => {} });
    await expect(refused.done).rejects.toMatchObject({ status: 404, code: 'not_found' });
    expect((await refused.done.catch((e: unknown) => e)) instanceof VmoApiError).toBe(true);
    const ended = client.shell({ agent: 'sh-box', command: 'exit 0', onOutput: () => {} });
    await ended.done;
    const late = client.shell({ agent: 'sh-box', session: ended.session, offset: 0, onOutput: () => {} });
    await expect(late.done).rejects.toMatchObject({ status: 404 });
  });
});
