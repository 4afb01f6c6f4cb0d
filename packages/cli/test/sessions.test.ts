/**
 * `vmo sessions` against a real system (API, worker, an agent with its PTY, Postgres, Redis), with
 * VMO_SHELL_RECORD_INPUT=true: sessions opened with `vmo shell` are listed (table, filters, --limit,
 * --json), and `vmo sessions logs` writes exactly the bytes stored for a session, output or (with
 * --input) input, non-UTF-8 bytes included. An unknown session is vmo's API-error exit (70) with
 * the API's code on stderr.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';
import { CLI_BIN, runCli, startAgent, useBundle } from './run-cli.ts';

describe('vmo sessions (real system)', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let bundle: string;
  let sql: postgres.Sql;
  let env: Record<string, string>;
  let session: string;
  let other: string;

  /** What Postgres holds for a session's stream (1 output, 0 input), in offset order. */
  const stored = async (id: string, stream: 0 | 1) =>
    Buffer.concat((await sql<{ data: Buffer }[]>`select data from shell_output where session_id = ${id} and stream = ${stream} order by "offset"`).map((r) => r.data));
  const newest = async () => (await sql<{ id: string }[]>`select id from shell_sessions order by opened_at desc, id desc limit 1`)[0]!.id;

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_sessions', env: { VMO_SHELL_RECORD_INPUT: 'true' } }), useBundle()]);
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    await startAgent(system, 'sess-cli');
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token };
    // A login shell fed by a pipe (what was typed is recorded), printing bytes that are not UTF-8.
    const typed = "printf 'bin-\\001\\377-end\\n'; exit 4\n";
    const first = await runCli(['shell', 'agent:sess-cli'], { env, input: typed, timeoutMs: 90_000 });
    expect(first.code, first.stderr.toString()).toBe(4);
    session = await newest();
    const second = await runCli(['shell', 'agent:sess-cli', '--', 'sh', '-c', 'echo second; exit 0'], { env, timeoutMs: 90_000 });
    expect(second.code, second.stderr.toString()).toBe(0);
    other = await newest();
    expect(other).not.toBe(session);
  }, 240_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  it('logs: stdout is exactly the stored output, bytes that are not UTF-8 included; exit 0', async () => {
    const r = await runCli(['sessions', 'logs', session], { env });
    expect(r.stderr.toString()).toBe('');
    expect(r.code).toBe(0);
    const bytes = await stored(session, 1);
    expect(bytes.length).toBeGreaterThan(0);
    expect(r.stdout.equals(bytes)).toBe(true);
    expect(r.stdout.includes(Buffer.from('bin-\x01\xff-end', 'latin1'))).toBe(true);
  });

  it('logs --input: stdout is exactly the stored input (what was typed)', async () => {
    const r = await runCli(['sessions', 'logs', '--input', session], { env });
    expect(r.code, r.stderr.toString()).toBe(0);
    const bytes = await stored(session, 0);
    expect(r.stdout.equals(bytes)).toBe(true);
    expect(r.stdout.toString('latin1')).toContain("printf 'bin-\\001\\377-end\\n'; exit 4");
  });

  it('logs of an unknown session: exit 70, the API\'s not_found on stderr, nothing on stdout', async () => {
    const r = await runCli(['sessions', 'logs', 'shs_00000000000000000000'], { env });
    expect(r.code).toBe(70);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr.toString()).toMatch(/^vmo: not_found: .*shs_00000000000000000000/);
    const bad = await runCli(['sessions', 'logs', 'nope'], { env });
    expect(bad.code).toBe(70);
    expect(bad.stderr.toString()).toMatch(/^vmo: validation_failed: /);
  });

  it('the list (the default subcommand): a table of both, newest first, with how each ended; --target, --user, --limit, --json', async () => {
    const table = await runCli(['sessions'], { env, script: CLI_BIN }); // the repository's bin once
    expect(table.code, table.stderr.toString()).toBe(0);
    const lines = table.stdout.toString().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+TARGET\s+USER\s+END\s+OPENED\s+DURATION\s+RECORDED\s+COMMAND$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([other, session]);
    // The bootstrap admin's sessions carry its name as recorded (`admin (VMO_ADMIN_TOKEN)`).
    const admin = (await sql<{ user_name: string }[]>`select user_name from shell_sessions where id = ${session}`)[0]!.user_name;
    const cells = (line: string) => line.split(/ {2,}/);
    expect(cells(lines[1]!)).toEqual([other, 'agent:sess-cli', admin, 'exit 0', expect.stringMatching(/ago$/), expect.any(String), `${(await stored(other, 1)).length} B`, "sh -c 'echo second; exit 0'"]);
    expect(cells(lines[2]!)).toEqual([session, 'agent:sess-cli', admin, 'exit 4', expect.stringMatching(/ago$/), expect.any(String), `${(await stored(session, 1)).length} B`, '-']);

    const json = await runCli(['sessions', 'ls', '--target', 'agent:sess-cli', '--user', admin, '--json'], { env });
    expect(json.code, json.stderr.toString()).toBe(0);
    const items = JSON.parse(json.stdout.toString()) as { id: string; exitCode: number; endReason: string; recordedBytes: number }[];
    expect(items.map((s) => s.id)).toEqual([other, session]);
    expect(items[1]).toMatchObject({ exitCode: 4, endReason: 'exited', recordedBytes: (await stored(session, 1)).length });

    const limited = await runCli(['sessions', 'list', '--limit', '1'], { env });
    expect(limited.code).toBe(0);
    expect(limited.stdout.toString().trimEnd().split('\n')).toHaveLength(2);
    expect(limited.stderr.toString()).toBe('(the 1 newest; --limit N or --all for more)\n');

    for (const filter of [['--target', 'nobody'], ['--user', 'nobody']]) {
      const none = await runCli(['sessions', ...filter, '--json'], { env });
      expect(none.code, none.stderr.toString()).toBe(0);
      expect(JSON.parse(none.stdout.toString())).toEqual([]);
    }
    const usage = await runCli(['sessions', '--limit', '0'], { env });
    expect(usage.code).toBe(2);
  });
});
