import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SECRET = 'vmo-canary-logger-Hk7Pq2Wm9Zt4';

describe('the control plane logger (#12: no body, env value or header value is ever logged)', () => {
  const out = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/log-child.ts', import.meta.url)), SECRET], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    env: { PATH: process.env.PATH!, ...(process.env.VMO_TEST_DATABASE_URL && { VMO_TEST_DATABASE_URL: process.env.VMO_TEST_DATABASE_URL }) },
  });
  const lines = out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  const line = (msg: string) => lines.find((l) => l.msg === msg)!;

  it('logs every line, none with the secret', () => {
    expect(out.status, out.stderr).toBe(0);
    expect(lines.map((l) => l.msg)).toEqual(['request failed', 'query failed', 'retrying', 'bad integer', 'objects by name']);
    expect(out.stdout).not.toContain(SECRET);
  });

  it("keeps a Postgres error's type, message, code and stack, without `where` and `detail` (which quote the value)", () => {
    const { err } = line('request failed');
    expect(err).toMatchObject({ type: 'PostgresError', code: '22P05', message: 'unsupported Unicode escape sequence' });
    expect(err.stack).toMatch(/^PostgresError: unsupported Unicode escape sequence\n\s+at /);
    expect(err).not.toHaveProperty('where');
    expect(err).not.toHaveProperty('detail');
  });

  it("cuts drizzle's parameters out of the message, keeps the query and the cause", () => {
    const { err } = line('query failed');
    expect(err.message).toBe('Failed query: insert into jobs (env) values ($1) [params not logged]');
    expect(err.cause).toMatchObject({ type: 'PostgresError', code: '22P05' });
    expect(line('retrying').err).toBe('Failed query: insert into jobs (env) values ($1) [params not logged]');
  });

  it('keeps the words of a data exception, not the value it quotes', () => {
    expect(line('bad integer').err).toMatchObject({ code: '22P02', message: 'invalid input syntax for type integer: "…"' });
  });

  it('censors env, secretEnv, headers, body, token and password wherever they are', () => {
    expect(line('objects by name')).toMatchObject({
      env: '[redacted]',
      secretEnv: '[redacted]',
      headers: '[redacted]',
      job: { env: '[redacted]', body: '[redacted]', secretEnv: '[redacted]' },
      token: '[redacted]',
      password: '[redacted]',
    });
  });
});
