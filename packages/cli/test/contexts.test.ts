/**
 * `vmo login` and contexts, and a dropped connection, the real CLI against a real system: the
 * config file (0600 in a 0700 directory under XDG_CONFIG_HOME), the token checked before it is
 * saved and never printed (context ls, --json, -o wide), switching contexts, the precedence of flags, VMO_* and contexts (a
 * context's token only to its own server), and `vmo run` through a TCP proxy that resets the
 * stream's connection: the output arrives whole, no byte lost or repeated.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, TcpProxy, TestSystem, waitFor } from '@vmo/testkit';
import { CLI_BIN, runCli, startCli, useBundle } from './run-cli.ts';

describe('vmo login, contexts and a dropped connection (real system)', () => {
  let system: TestSystem;
  let proxy: TcpProxy;
  let scratch: string;
  let direct: string;
  let bundle: string;

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_contexts' }), useBundle()]);
    direct = system.apiUrls[0]!;
    proxy = await TcpProxy.start(Number(new URL(direct).port));
    scratch = mkdtempSync(join(tmpdir(), 'vmo-cli-ctx-'));
  }, 240_000); // a loaded machine starts processes slowly: a deadline, not a measure
  afterAll(async () => {
    await proxy?.close();
    await system?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  // The three cases below share one config directory, in order: login, then switching, then precedence.
  const xdg = () => join(scratch, 'xdg');
  const file = () => join(xdg(), 'vmo', 'config.json');

  it('login checks the token before it saves it, in a 0600 file in a 0700 directory', async () => {
    const env = { XDG_CONFIG_HOME: xdg() };
    const file_ = file();

    // The token on stdin, never on the command line.
    const first = await runCli(['login', '--server', direct, '--name', 'direct'], { env, input: `${system.token}\n`, script: CLI_BIN });
    expect([first.code, first.stderr.toString()]).toEqual([0, '']);
    expect(first.stdout.toString()).toMatch(/logged in to .* as .*context "direct" is current/);
    expect(statSync(file_).mode & 0o777).toBe(0o600);
    expect(statSync(join(xdg(), 'vmo')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file_, 'utf8'))).toMatchObject({ current: 'direct', contexts: { direct: { server: direct, token: system.token } } });

    // A token the API refuses is not saved.
    const wrong = await runCli(['login', '--server', direct, '--name', 'wrong', '--token', 'vmo_usr_nottoken'], { env });
    expect([wrong.code, wrong.stderr.toString()]).toEqual([70, expect.stringMatching(/^vmo: unauthorized: /)]);
    expect(Object.keys(JSON.parse(readFileSync(file_, 'utf8')).contexts)).toEqual(['direct']);
  }, 180_000);

  it('contexts: ls (never a token), the current one, --context, use', async () => {
    const env = { XDG_CONFIG_HOME: xdg() };
    const file_ = file();
    const second = await runCli(['login', '--server', proxy.url, '--name', 'proxied', '--token', system.token], { env });
    expect(second.code).toBe(0);
    const ls = await runCli(['context', 'ls'], { env });
    expect(ls.stdout.toString()).toMatch(/^CURRENT +NAME +SERVER +USER\n +direct +http:\S+ +admin.*\n\* +proxied +http:\S+ +admin/);
    expect(ls.stdout.toString()).not.toContain(system.token);
    // --json and -o wide: whether a token is stored, never the token.
    const json = await runCli(['context', 'ls', '--json'], { env });
    expect(json.code, json.stderr.toString()).toBe(0);
    expect(json.stdout.toString()).not.toContain(system.token);
    expect(JSON.parse(json.stdout.toString())).toEqual([
      { name: 'direct', current: false, server: direct, user: expect.stringMatching(/^admin/), tokenStored: true },
      { name: 'proxied', current: true, server: proxy.url, user: expect.stringMatching(/^admin/), tokenStored: true },
    ]);
    const wide = await runCli(['context', 'ls', '-o', 'wide'], { env });
    expect(wide.stdout.toString()).toMatch(/^CURRENT +NAME +SERVER +USER +TOKEN\n +direct +http:\S+ +admin.* +stored\n\* +proxied +http:\S+ +admin.* +stored\n$/);
    expect(wide.stdout.toString()).not.toContain(system.token);

    // The current context is used; --context picks another; `use` switches.
    const viaCurrent = await runCli(['run', '--', 'echo via-context'], { env });
    expect([viaCurrent.code, viaCurrent.stdout.toString()]).toEqual([0, 'via-context\n']);
    const acceptedBefore = proxy.accepted;
    expect((await runCli(['--context', 'direct', 'run', '--', 'true'], { env })).code).toBe(0);
    expect(proxy.accepted).toBe(acceptedBefore); // it went to the direct URL
    expect((await runCli(['context', 'use', 'direct'], { env })).code).toBe(0);
    expect(JSON.parse(readFileSync(file_, 'utf8')).current).toBe('direct');
    expect((await runCli(['--context', 'nope', 'run', '--', 'true'], { env })).code).toBe(70);
  }, 180_000);

  it('flags over VMO_* over the context, and a context\'s token only to its own server; rm', async () => {
    const env = { XDG_CONFIG_HOME: xdg() };
    const file_ = file();

    // VMO_SERVER over the context; --server over VMO_SERVER.
    const nobody = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const envWins = await runCli(['run', '--', 'true'], { env: { ...env, VMO_SERVER: nobody } });
    expect([envWins.code, envWins.stderr.toString()]).toEqual([70, expect.stringMatching(/^vmo: unreachable: cannot reach the server: ECONNREFUSED/)]);
    const flagWins = await runCli(['--server', direct, 'run', '--', 'echo flag'], { env: { ...env, VMO_SERVER: nobody } });
    expect([flagWins.code, flagWins.stdout.toString()]).toEqual([0, 'flag\n']);
    // LOUD: the current context's token is not sent to a server that is not the context's.
    const otherServer = await runCli(['--server', proxy.url, 'run', '--', 'true'], { env });
    expect([otherServer.code, otherServer.stderr.toString()]).toEqual([70, expect.stringMatching(/^vmo: unauthorized: /)]);
    const withToken = await runCli(['--server', proxy.url, 'run', '--', 'true'], { env: { ...env, VMO_TOKEN: system.token } });
    expect(withToken.code).toBe(0);

    const rm = await runCli(['context', 'rm', 'direct'], { env });
    expect(rm.code).toBe(0);
    expect(JSON.parse(readFileSync(file_, 'utf8'))).toEqual({ contexts: { proxied: expect.objectContaining({ server: proxy.url }) } });
    const none = await runCli(['run', '--', 'true'], { env });
    expect([none.code, none.stderr.toString()]).toEqual([70, expect.stringMatching(/no server: run `vmo login/)]);
  }, 180_000);

  it('a connection reset mid-stream resumes: the output arrives whole, no byte lost or repeated', async () => {
    const dir = mkdtempSync(join(scratch, 'resume-'));
    const env = { VMO_SERVER: proxy.url, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(scratch, 'none') };
    const script = `echo first; while [ ! -f ${dir}/go ]; do sleep 0.05; done; i=0; while [ $i -lt 400 ]; do echo "line $i"; i=$((i+1)); case $i in *0) sleep 0.02;; esac; done; echo last`;
    const vmo = startCli(['run', '--', script], { env });
    await waitFor('the first line', () => vmo.stdout().toString().includes('first'), 30_000);
    const before = proxy.accepted;
    proxy.dropOpen(); // reset while the job is quiet…
    writeFileSync(join(dir, 'go'), '');
    await waitFor('output after the reset', () => vmo.stdout().toString().includes('line 100'), 30_000);
    proxy.dropOpen(); // …and while it writes
    const r = await vmo.done;
    const expected = ['first', ...Array.from({ length: 400 }, (_, i) => `line ${i}`), 'last', ''].join('\n');
    expect([r.code, r.stderr.toString()]).toEqual([0, '']);
    expect(r.stdout.toString()).toBe(expected);
    expect(proxy.accepted).toBeGreaterThan(before); // it did reconnect
  }, 120_000);
});
