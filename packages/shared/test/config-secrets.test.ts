import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { adminTokenVar, commonEnv, secretVar, secretWeakness, tryParseEnv } from '../src/config/index.ts';

const CANARY = 'vmo-canary-config-Zq8Lw3Rt5Yp1';
const dir = mkdtempSync(join(tmpdir(), 'vmo-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const schema = z.object({ ...commonEnv, VMO_ADMIN_TOKEN: adminTokenVar, VMO_PLAIN: z.string().regex(/^\d+$/, 'must be digits').optional() });
const file = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const strong = `vmo_adm_${'0123456789abcdef'.split('').reverse().join('')}f3a9c1e7b5d2`;

/** The error a parse throws, as a string ('' when it parses). */
const failure = (env: Record<string, string>) => {
  try {
    tryParseEnv(schema, env);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
};

describe('secret settings from files (<NAME>_FILE)', () => {
  it('reads the value from the file, dropping one trailing newline', () => {
    const config = tryParseEnv(schema, {
      VMO_ADMIN_TOKEN_FILE: file('admin', `${strong}\n`),
      VMO_DATABASE_URL_FILE: file('db', 'postgres://u:pw@db:5432/vmo\r\n'),
      VMO_REDIS_URL_FILE: file('redis', 'redis://:pw@cache:6379'),
    });
    expect(config).toMatchObject({ VMO_ADMIN_TOKEN: strong, VMO_DATABASE_URL: 'postgres://u:pw@db:5432/vmo', VMO_REDIS_URL: 'redis://:pw@cache:6379' });
  });

  it('reads VMO_SECRET_KEY from VMO_SECRET_KEY_FILE; a bad key there is named by the file form, never shown', () => {
    const key = '5b8e2d4f7a1c3e6b9d0f2a4c6e8b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a0c2e4b';
    expect(tryParseEnv(schema, { VMO_SECRET_KEY_FILE: file('secret-key', `${key}\n`) }).VMO_SECRET_KEY).toBe(key);
    const bad = failure({ VMO_SECRET_KEY_FILE: file('secret-key-bad', `${key.slice(0, 40)}\n`) });
    expect(bad).toMatch(/^VMO_SECRET_KEY \(read from VMO_SECRET_KEY_FILE\): must be 64 hexadecimal characters/);
    expect(bad).not.toContain(key.slice(0, 40));
  });

  it('refuses both forms at once, naming the variable', () => {
    expect(failure({ VMO_ADMIN_TOKEN: strong, VMO_ADMIN_TOKEN_FILE: file('both', strong) })).toBe('VMO_ADMIN_TOKEN_FILE: VMO_ADMIN_TOKEN and VMO_ADMIN_TOKEN_FILE are both set; set only one');
  });

  it.each([
    ['a missing file', () => join(dir, 'nope'), /^VMO_DATABASE_URL_FILE: cannot read .*nope \(ENOENT\)$/],
    ['a directory', () => dir, /^VMO_DATABASE_URL_FILE: .* is not a regular file$/],
    ['a FIFO (would block a plain read)', () => {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      return fifo;
    }, /^VMO_DATABASE_URL_FILE: .*fifo is not a regular file$/],
    ['a file over 64 KiB', () => file('big', Buffer.alloc(65 * 1024, 'a')), /^VMO_DATABASE_URL_FILE: .* is larger than 65536 bytes$/],
    ['an empty path', () => '', /^VMO_DATABASE_URL_FILE: must be the path of a file$/],
  ])('refuses %s with one line naming the variable', (_what, path, message) => {
    expect(failure({ VMO_DATABASE_URL_FILE: path() })).toMatch(message);
  });

  it('refuses a file it may not read, without saying more than that', () => {
    if (process.getuid?.() === 0) {
      // root reads any file: check the message through a user that cannot.
      const path = file('unreadable', CANARY);
      chmodSync(path, 0o600);
      const out = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '--import', 'tsx', '-e', readAsNobody(path)], {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      });
      expect(out.stdout.trim()).toMatch(/^VMO_ADMIN_TOKEN_FILE: cannot read .*unreadable \(EACCES\)$/);
      expect(out.stdout + out.stderr).not.toContain(CANARY);
    } else {
      const path = file('unreadable', CANARY);
      chmodSync(path, 0o000);
      expect(failure({ VMO_ADMIN_TOKEN_FILE: path })).toMatch(/^VMO_ADMIN_TOKEN_FILE: cannot read .*unreadable \(EACCES\)$/);
    }
  });

  it('names the variable (and the file form) when the value read is bad, never echoing it', () => {
    const message = failure({ VMO_DATABASE_URL_FILE: file('bad-db', `mysql://root:${CANARY}@db/x`) });
    expect(message).toMatch(/^VMO_DATABASE_URL \(read from VMO_DATABASE_URL_FILE\): must be a URL starting with postgres/);
    expect(message).not.toContain(CANARY);
  });
});

describe('secret values are never echoed', () => {
  it.each([
    ['VMO_ADMIN_TOKEN', 'short'],
    ['VMO_ADMIN_TOKEN', CANARY],
    ['VMO_DATABASE_URL', `mysql://u:${CANARY}@db/x`],
    ['VMO_REDIS_URL', `http://:${CANARY}@cache`],
  ])('%s', (name, value) => {
    const message = failure({ [name]: value });
    expect(message).toMatch(new RegExp(`^${name}: `));
    expect(message).not.toContain(value);
    expect(message).not.toContain('got');
  });

  it('still shows a bad value of a variable that is not secret', () => {
    expect(failure({ VMO_PLAIN: 'abc' })).toBe('VMO_PLAIN: must be digits (got "abc")');
  });

  it('treats a variable marked secretVar, or named like a secret, as secret', () => {
    const s = z.object({ X_KEY: secretVar(z.string().min(40)), Y_PASSWORD: z.string().min(40) });
    expect(() => tryParseEnv(s, { X_KEY: CANARY, Y_PASSWORD: 'x'.repeat(40) })).toThrow(/^X_KEY: [^(]*$/);
    expect(() => tryParseEnv(s, { X_KEY: 'x'.repeat(40), Y_PASSWORD: CANARY })).toThrow(/^Y_PASSWORD: [^(]*$/);
  });
});

describe('VMO_ADMIN_TOKEN strength', () => {
  it.each([
    ['16 characters (the old minimum)', 'vmo_adm_a1b2c3d4', /at least 32 characters/],
    ['one character repeated', 'a'.repeat(40), /at least 8 different characters/],
    ['a word repeated', 'passw0rd!'.repeat(4), /a short string repeated/],
    ['digits in a row', '1234567890'.repeat(4), /a short string repeated/],
    ['the alphabet', 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ', /neighbouring characters/],
  ])('refuses %s', (_what, token, message) => {
    expect(failure({ VMO_ADMIN_TOKEN: token })).toMatch(message);
  });

  it('accepts random tokens of 32 characters and more', () => {
    for (let i = 0; i < 2000; i++) {
      const hex = execFileSyncRandomHex();
      expect(secretWeakness(hex), hex).toBeUndefined();
    }
    expect(failure({ VMO_ADMIN_TOKEN: 'vmo_adm_startup-early-0123456789' })).toBe('');
    expect(failure({ VMO_ADMIN_TOKEN: 'correct-horse-battery-staple-1234' })).toBe('');
  });
});

describe('parseEnv in a real process', () => {
  const entry = fileURLToPath(new URL('./fixtures/parse-env-child.ts', import.meta.url));
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', entry], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) });

  it('takes secrets out of the environment once read: a child process does not inherit them; a second parse still sees them', () => {
    const out = run({ VMO_ADMIN_TOKEN: strong, VMO_DATABASE_URL_FILE: file('db-child', `postgres://u:${CANARY}@db/vmo\n`), VMO_REDIS_URL: `redis://:${CANARY}@cache:6379` });
    expect(out.status, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as { first: Record<string, string>; second: Record<string, string>; childEnv: string };
    expect(report.first).toMatchObject({ VMO_ADMIN_TOKEN: strong, VMO_DATABASE_URL: `postgres://u:${CANARY}@db/vmo`, VMO_REDIS_URL: `redis://:${CANARY}@cache:6379` });
    expect(report.second).toEqual(report.first);
    expect(report.childEnv).not.toContain(CANARY);
    expect(report.childEnv).not.toContain(strong);
    expect(report.childEnv).not.toMatch(/VMO_(ADMIN_TOKEN|DATABASE_URL|REDIS_URL)/);
    expect(report.childEnv).toContain('VMO_KEEP=1'); // only the secrets go
  });

  it('stops with exit 78 and one line naming the variable, without its value', () => {
    const out = run({ VMO_ADMIN_TOKEN: `short-${CANARY.slice(0, 10)}` });
    expect(out.status).toBe(78);
    expect(out.stderr).toBe('vmo: invalid configuration: VMO_ADMIN_TOKEN: must be at least 32 characters (e.g. vmo_adm_$(openssl rand -hex 24))\n');
  });
});

function execFileSyncRandomHex(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A script run as nobody: parse VMO_ADMIN_TOKEN_FILE=path and print the error. */
function readAsNobody(path: string): string {
  const lib = fileURLToPath(new URL('../src/config/secret-files.ts', import.meta.url));
  return `import(${JSON.stringify(lib)}).then(({ readSecretFiles }) => { try { readSecretFiles({ VMO_ADMIN_TOKEN_FILE: ${JSON.stringify(path)} }, ['VMO_ADMIN_TOKEN']); console.log('read it'); } catch (e) { console.log(e.message); } })`;
}
