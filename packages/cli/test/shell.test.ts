/**
 * Issue 17: `vmo shell` against a real system with a real agent and PTY. Non-interactively (pipes):
 * the remote output on stdout and its exit code as vmo's. Interactively, vmo inside a real
 * pseudo-terminal (node-pty): typed input reaches the remote shell, the window's size follows a
 * resize, `exit 5` makes vmo exit 5 and the local terminal is left out of raw mode. And a
 * connection dropped mid-output (a TCP proxy resets it) is reopened by vmo itself: every line
 * exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pty from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy, TestSystem, waitFor } from '@vmo/testkit';
import { baseEnv, CLI_ROOT, runCli, startCli, startAgent, useBundle } from './run-cli.ts';

describe('vmo shell (real system, agent, PTY)', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let proxy: TcpProxy;
  let scratch: string;
  let bundle: string;
  let env: Record<string, string>;
  const terminals: pty.IPty[] = [];

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_shell' }), useBundle()]);
    await startAgent(system, 'sh-cli');
    proxy = await TcpProxy.start(Number(new URL(system.apiUrls[0]!).port));
    scratch = mkdtempSync(join(tmpdir(), 'vmo-cli-shell-'));
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(scratch, 'config') };
  }, 240_000);
  afterAll(async () => {
    for (const t of terminals) t.kill('SIGKILL');
    await proxy?.close();
    await system?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  it("without a terminal: -- sh -c 'echo hi; exit 3' prints hi and exits 3", async () => {
    const r = await runCli(['shell', 'agent:sh-cli', '--', 'sh', '-c', 'echo hi; exit 3'], { env });
    expect(r.stderr.toString()).toBe('');
    expect(r.stdout.toString()).toContain('hi');
    expect(r.code).toBe(3);
  });

  it('in a terminal: typed input runs remotely, the size follows a resize, exit 5 is vmo\'s exit 5, raw mode is undone', async () => {
    // vmo, then `stty -a` in the same terminal once vmo is gone: it must be back in cooked mode.
    const script = `${JSON.stringify(process.execPath)} ${JSON.stringify(bundle)} shell agent:sh-cli; code=$?; stty -a | grep -o -- '-\\?icanon' | head -1; echo "vmo-exit=$code"`;
    const term = pty.spawn('/bin/sh', ['-c', script], { name: 'xterm', cols: 90, rows: 30, cwd: CLI_ROOT, env: baseEnv({ ...env, TERM: 'xterm' }) });
    terminals.push(term);
    let output = '';
    term.onData((d) => (output += d));
    const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
    const see = (what: string | RegExp) =>
      waitFor(`terminal shows ${String(what)}`, () => (typeof what === 'string' ? output.includes(what) : what.test(output)) || undefined, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}; got ${JSON.stringify(output.slice(-800))}`);
      });
    term.write('stty size; echo "s=$((1+1))"\r');
    await see(/30 90\r\n[\s\S]*s=2/);
    term.write('echo $((6*7))\r');
    await see(/\r42\r\n/); // the answer alone on its line (the echoed command has $((6*7)))
    term.resize(120, 40);
    await waitFor('the resize to reach the remote PTY', async () => {
      term.write('stty size\r');
      await new Promise((r) => setTimeout(r, 300)); // a poll interval: SIGWINCH has no event to wait on here
      return output.includes('40 120') || undefined;
    }, 60_000);
    term.write('exit 5\r');
    await see('vmo-exit=5');
    // The terminal is back to canonical mode (`icanon`, not `-icanon`) after vmo.
    expect(output).toMatch(/\r\nicanon\r\nvmo-exit=5/);
    expect(await exited).toBe(0);
  });

  it('a connection dropped mid-output is reopened by vmo itself: every line exactly once, then the exit code', async () => {
    const proxied = { ...env, VMO_SERVER: proxy.url };
    const cli = startCli(['shell', 'agent:sh-cli', '--', 'sh', '-c', 'for i in $(seq 1 3000); do echo "line-$i"; [ $((i % 100)) = 0 ] && sleep 0.1; done; exit 6'], { env: proxied, timeoutMs: 120_000 });
    await waitFor('output under way', () => cli.stdout().toString().includes('line-300\r') || undefined, 60_000);
    const before = cli.stdout().toString();
    proxy.dropOpen();
    const r = await cli.done;
    expect(before).not.toContain('line-3000\r');
    expect(r.code, r.stderr.toString()).toBe(6);
    const lines = [...r.stdout.toString().matchAll(/line-(\d+)\r\n/g)].map((m) => Number(m[1]));
    expect(lines).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
  });

  it('refuses what it cannot open: an unknown workspace, agent or host is the API\'s 404 (70); a bad target is usage (2)', async () => {
    const workspace = await runCli(['shell', 'workspace:dev', '--', 'true'], { env });
    expect(workspace.code).toBe(70);
    expect(workspace.stderr.toString()).toMatch(/not_found/);
    const bad = await runCli(['shell', 'machine:dev'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr.toString()).toContain('must be agent:NAME, host:NAME or workspace:NAME');
    const host = await runCli(['shell', 'host:db-1@nowhere', '--', 'true'], { env });
    expect(host.code).toBe(70);
    expect(host.stderr.toString()).toMatch(/not_found/);
    const none = await runCli(['shell', 'agent:nobody-here', '--', 'true'], { env });
    expect(none.code).toBe(70);
    expect(none.stderr.toString()).toMatch(/not_found/);
  });
});
