import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { enrolmentNonce, forgetEnrolmentNonce, openStateDir, StateDirError, stateToken, writeStateToken } from './state-dir.ts';
import { tokenFile } from './token-source.ts';

const root = mkdtempSync(join(tmpdir(), 'vmo-state-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const token = 'vmo_agt_' + 'a'.repeat(43);

describe('--state-dir (PROTOCOL.md §8)', () => {
  it('is created 0700 (parents too) when missing; not enrolled until agent.token exists', () => {
    const dir = join(root, 'a', 'b');
    const state = openStateDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(state).toEqual({ dir, tokenPath: join(dir, 'agent.token'), enrolled: false });
  });

  it('keeps the token 0600 whatever the umask, leaves no temporary file, and reads it back', () => {
    const dir = join(root, 'write');
    const { tokenPath } = openStateDir(dir);
    const umask = process.umask(0o000);
    try {
      writeStateToken(tokenPath, token);
    } finally {
      process.umask(umask);
    }
    expect(statSync(tokenPath).mode & 0o777).toBe(0o600);
    expect(readFileSync(tokenPath, 'utf8')).toBe(`${token}\n`);
    expect(readdirSync(dir)).toEqual(['agent.token']);
    expect(openStateDir(dir).enrolled).toBe(true);
    expect(stateToken(tokenPath).read()).toEqual({ token });
  });

  it.each([0o770, 0o777, 0o722, 0o702])('refuses a directory others may write (mode %o)', (mode) => {
    const dir = join(root, `open-${mode.toString(8)}`);
    mkdirSync(dir);
    chmodSync(dir, mode);
    expect(() => openStateDir(dir)).toThrow(StateDirError);
    expect(() => openStateDir(dir)).toThrow(`--state-dir: ${dir} is writable by users other than its owner (mode 0${mode.toString(8)})`);
  });

  it('refuses a path that is a file', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    expect(() => openStateDir(file)).toThrow(/--state-dir: (cannot create .*\(EEXIST\)|.* is not a directory)/);
  });

  it('a state token others may read is no token: it may have leaked', () => {
    const dir = join(root, 'leaky');
    const { tokenPath } = openStateDir(dir);
    writeStateToken(tokenPath, token);
    chmodSync(tokenPath, 0o644);
    expect(stateToken(tokenPath).read()).toEqual({ problem: `${tokenPath} may be read or written by users other than its owner (mode 0644): chmod 600 ${tokenPath}` });
  });

  it('a token file that holds something else is no token, and its content is never quoted', () => {
    const path = join(root, 'not-a-token');
    writeFileSync(path, 'vmo_adm_secret-admin-token\n', { mode: 0o600 });
    const read = tokenFile(path).read();
    expect(read).toEqual({ problem: `${path} does not hold an agent token (vmo_agt_…)` });
    expect(JSON.stringify(read)).not.toContain('secret-admin-token');
    expect(tokenFile(join(root, 'missing')).read()).toEqual({ problem: `cannot read ${join(root, 'missing')} (ENOENT)` });
  });
  it('the enrolment nonce: made once (256 random bits, 0600 whatever the umask), read back from its file on every later call; removed once enrolled', () => {
    const dir = join(root, 'nonce');
    openStateDir(dir);
    const umask = process.umask(0o000);
    let nonce: string;
    try {
      nonce = enrolmentNonce(dir);
    } finally {
      process.umask(umask);
    }
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const path = join(dir, 'enrol.nonce');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(`${nonce}\n`);
    expect(readdirSync(dir)).toEqual(['enrol.nonce']);
    expect(enrolmentNonce(dir)).toBe(nonce);
    expect(enrolmentNonce(openStateDir(join(root, 'nonce-other')).dir)).not.toBe(nonce);
    forgetEnrolmentNonce(dir);
    expect(readdirSync(dir)).toEqual([]);
    forgetEnrolmentNonce(dir); // gone already: nothing to do
  });

  it('an enrolment nonce others may read, or that is no nonce, is refused naming the file, never quoting it', () => {
    const dir = join(root, 'nonce-bad');
    openStateDir(dir);
    const path = join(dir, 'enrol.nonce');
    writeFileSync(path, `${'k'.repeat(43)}\n`, { mode: 0o644 });
    chmodSync(path, 0o644);
    expect(() => enrolmentNonce(dir)).toThrow(StateDirError);
    expect(() => enrolmentNonce(dir)).toThrow(`--state-dir: ${path} may be read or written by users other than its owner (mode 0644)`);
    writeFileSync(path, 'vmo_enr_secret-looking text\n', { mode: 0o600 });
    chmodSync(path, 0o600);
    let message = '';
    try {
      enrolmentNonce(dir);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(`--state-dir: ${path} does not hold an enrolment nonce: remove it (a new one is made)`);
  });
});

