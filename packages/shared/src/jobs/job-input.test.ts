import { describe, expect, it } from 'vitest';
import { validationError } from '../errors/zod-error.ts';
import { DEFAULT_TIMEOUT_MS, JobInput, MAX_COMMAND_BYTES, MAX_SECRET_VALUE_BYTES, MAX_SECRET_VARIABLES, MAX_TIMEOUT_MS } from './job-input.ts';

/** 'ok', or the message a client gets: `<field>: <what is wrong>`. */
function check(body: unknown): string {
  const r = JobInput.safeParse(body);
  return r.success ? 'ok' : validationError(r.error).message;
}

describe('JobInput', () => {
  it('fills the defaults', () => {
    expect(JobInput.parse({ command: 'echo hi' })).toEqual({ command: 'echo hi', target: { type: 'local' }, env: {}, timeoutMs: DEFAULT_TIMEOUT_MS, labels: {}, priority: 5 });
  });

  it('accepts every field', () => {
    const body = {
      command: 'make test',
      target: { type: 'agent', agent: 'vm-1' },
      env: { CI: '1', _X9: '' },
      cwd: '/srv/app',
      timeoutMs: 1,
      labels: { team: 'infra', 'k8s.io/zone': 'eu' },
      runAt: '2020-01-31T23:00:00+01:00',
      priority: 10,
    };
    expect(JobInput.parse(body)).toEqual(body);
    expect(check({ command: 'x', target: { type: 'ssh', host: 'web-1@prod' } })).toBe('ok');
    expect(check({ command: 'x', timeoutMs: MAX_TIMEOUT_MS })).toBe('ok');
  });

  describe('runAt and priority (issue 14)', () => {
    const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();
    it.each([
      ['UTC', '2030-01-31T22:00:00Z'],
      ['an offset', '2030-01-31T23:00:00+01:00'],
      ['fractions of a second', '2030-01-31T22:00:00.123456Z'],
      ['no seconds', '2030-01-31T22:00Z'],
      ['the past (runs now)', '2001-01-01T00:00:00Z'],
    ])('accepts a runAt in %s', (_what, runAt) => expect(check({ command: 'x', runAt: runAt.startsWith('2030') ? inDays(30) : runAt })).toBe('ok'));

    it.each([
      ['without an offset', '2030-01-31T22:00:00', /^runAt: must be an ISO 8601 time with a UTC offset/],
      ['a date alone', '2030-01-31', /^runAt: must be an ISO 8601 time with a UTC offset/],
      ['not a time', 'tomorrow', /^runAt: must be an ISO 8601 time with a UTC offset/],
      ['a day that does not exist', '2030-02-30T00:00:00Z', /^runAt: must be an ISO 8601 time/],
      ['a number', 1893456000000, /^runAt: must be an ISO 8601 time/],
      ['before 1970', '1969-12-31T23:59:59Z', /^runAt: must not be before 1970/],
      ['more than a year ahead', inDays(367), /^runAt: must be at most a year ahead/],
    ])('refuses a runAt %s', (_what, runAt, message) => expect(check({ command: 'x', runAt })).toMatch(message));

    it.each([1, 5, 10])('accepts priority %s', (priority) => expect(JobInput.parse({ command: 'x', priority }).priority).toBe(priority));

    it.each([
      ['0', 0, /^priority: must be at least 1/],
      ['11', 11, /^priority: must be at most 10/],
      ['a fraction', 2.5, /^priority: must be a whole number from 1 to 10/],
      ['a string', '7', /^priority: must be a whole number from 1 to 10/],
      ['null', null, /^priority: must be a whole number from 1 to 10/],
    ])('refuses priority %s', (_what, priority, message) => expect(check({ command: 'x', priority })).toMatch(message));
  });

  describe('command', () => {
    it.each([
      ['missing', {}, /^command: is required/],
      ['null', { command: null }, /^command: is required and must be a string/],
      ['a number', { command: 42 }, /^command: is required and must be a string/],
      ['a list', { command: ['ls', '-l'] }, /^command: is required and must be a string/],
      ['empty', { command: '' }, /^command: must not be empty/],
      ['blank', { command: ' \t\n ' }, /^command: must not be blank/],
      ['with a NUL byte', { command: 'echo a\0b' }, /^command: must not contain NUL bytes/],
      ['one byte over 64 KiB', { command: 'x'.repeat(MAX_COMMAND_BYTES + 1) }, /^command: must be at most 65536 bytes/],
      ['over 64 KiB in bytes though not in characters', { command: 'é'.repeat(MAX_COMMAND_BYTES / 2 + 1) }, /^command: must be at most 65536 bytes/],
    ])('refuses a command that is %s', (_what, body, message) => expect(check(body)).toMatch(message));

    it('accepts a command of exactly 64 KiB', () => {
      expect(check({ command: 'x'.repeat(MAX_COMMAND_BYTES) })).toBe('ok');
      expect(check({ command: 'é'.repeat(MAX_COMMAND_BYTES / 2) })).toBe('ok');
    });
  });

  describe('target', () => {
    it.each([
      ['an unknown type', { type: 'docker' }, /^target\.type: must be \{"type":"local"\}/],
      ['no type', {}, /^target\.type: must be/],
      ['a string', 'local', /^target: /],
      ['an agent target without its agent', { type: 'agent' }, /^target\.agent: /],
      ['an agent target with an empty agent', { type: 'agent', agent: '' }, /^target\.agent: must name an agent/],
      ['an ssh target with an empty host', { type: 'ssh', host: '' }, /^target\.host: must name a host/],
      ['a local target with extra fields', { type: 'local', agent: 'vm-1' }, /^target: .*agent/],
      ['an agent name over 255 characters', { type: 'agent', agent: 'a'.repeat(256) }, /^target\.agent: /],
    ])('refuses %s', (_what, target, message) => expect(check({ command: 'x', target })).toMatch(message));
  });

  describe('timeoutMs', () => {
    it.each([
      ['negative', -1, /^timeoutMs: must be at least 1/],
      ['zero', 0, /^timeoutMs: must be at least 1/],
      ['fractional', 1.5, /^timeoutMs: must be a whole number of milliseconds/],
      ['over 7 days', MAX_TIMEOUT_MS + 1, /^timeoutMs: must be at most 604800000/],
      ['absurd', 1e300, /^timeoutMs: /],
      ['a string', '1000', /^timeoutMs: must be a number of milliseconds/],
      ['null', null, /^timeoutMs: must be a number of milliseconds/],
    ])('refuses a timeout that is %s', (_what, timeoutMs, message) => expect(check({ command: 'x', timeoutMs })).toMatch(message));
  });

  describe('env', () => {
    it.each([
      ['a name starting with a digit', { '1A': 'x' }, /^env\.1A: variable names are letters/],
      ['a name with a dash', { 'MY-VAR': 'x' }, /^env\.MY-VAR: variable names/],
      ['a name with "="', { 'A=B': 'x' }, /^env\.A=B: variable names/],
      ['an empty name', { '': 'x' }, /^env\.: variable names/],
      ['a value that is not a string', { A: 1 }, /^env\.A: /],
      ['a value with a NUL byte', { A: 'a\0b' }, /^env\.A: values must not contain NUL bytes/],
      ['a value over 32 KiB', { A: 'v'.repeat(32 * 1024 + 1) }, /^env\.A: /],
      ['more than 256 variables', Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`V${i}`, ''])), /^env: at most 256 variables/],
      ['a list', ['A=1'], /^env: /],
    ])('refuses %s', (_what, env, message) => expect(check({ command: 'x', env })).toMatch(message));
  });

  describe('secretEnv', () => {
    const secret = 'a-secret-value-that-must-not-echo';
    it('accepts names as env does, values of 4 bytes to 16 KiB, and is absent unless given', () => {
      expect(JobInput.parse({ command: 'x' })).not.toHaveProperty('secretEnv');
      const secretEnv = { TOKEN: secret, _K9: 'four', BIG: 'k'.repeat(MAX_SECRET_VALUE_BYTES), EURO: '€€' };
      expect(JobInput.parse({ command: 'x', secretEnv }).secretEnv).toEqual(secretEnv);
      expect(check({ command: 'x', secretEnv: Object.fromEntries(Array.from({ length: MAX_SECRET_VARIABLES }, (_, i) => [`S${i}`, 'valu'])) })).toBe('ok');
    });

    it.each([
      ['a name starting with a digit', { '1A': secret }, /^secretEnv\.1A: variable names are letters/],
      ['VMO_JOB_ID', { VMO_JOB_ID: secret }, /^secretEnv\.VMO_JOB_ID: VMO_JOB_ID is set by vmo/],
      ['a value that is not a string', { A: 12345 }, /^secretEnv\.A: values must be strings/],
      ['an empty value', { A: '' }, /^secretEnv\.A: values must be at least 4 bytes/],
      ['a value of 3 bytes', { A: 'abc' }, /^secretEnv\.A: values must be at least 4 bytes \(a shorter value cannot be masked/],
      ['a value with a NUL byte', { A: `${secret}\0` }, /^secretEnv\.A: values must not contain NUL bytes/],
      ['a value over 16 KiB', { A: 'v'.repeat(MAX_SECRET_VALUE_BYTES + 1) }, /^secretEnv\.A: values must be at most 16384 bytes/],
      ['more than 64 variables', Object.fromEntries(Array.from({ length: MAX_SECRET_VARIABLES + 1 }, (_, i) => [`V${i}`, secret])), /^secretEnv: at most 64 variables/],
      ['over 64 KiB in all', Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`V${i}`, 'v'.repeat(MAX_SECRET_VALUE_BYTES)])), /^secretEnv: at most 65536 bytes/],
      ['a list', [`A=${secret}`], /^secretEnv: /],
      ['a string', secret, /^secretEnv: /],
    ])('refuses %s, never quoting a value', (_what, secretEnv, message) => {
      const got = check({ command: 'x', secretEnv });
      expect(got).toMatch(message);
      expect(got).not.toContain(secret);
      expect(got).not.toContain('vvvv');
    });
  });

  describe('cwd', () => {
    it.each([
      ['empty', '', /^cwd: /],
      ['with a NUL byte', '/tmp\0', /^cwd: must not contain NUL bytes/],
      ['over 4096 characters', '/' + 'd'.repeat(4096), /^cwd: /],
      ['a number', 1, /^cwd: /],
    ])('refuses a cwd that is %s', (_what, cwd, message) => expect(check({ command: 'x', cwd })).toMatch(message));
  });

  describe('labels', () => {
    it.each([
      ['a key with a space', { 'a b': 'x' }, /^labels\.a b: label keys/],
      ['a key over 63 characters', { ['k'.repeat(64)]: 'x' }, /^labels\.k+: label keys/],
      ['a value over 255 characters', { k: 'v'.repeat(256) }, /^labels\.k: label values are at most 255/],
      ['more than 64 labels', Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])), /^labels: at most 64 labels/],
    ])('refuses %s', (_what, labels, message) => expect(check({ command: 'x', labels })).toMatch(message));
  });

  it('refuses unknown fields (a misspelt timeout is not ignored)', () => {
    expect(check({ command: 'x', timeout: 5 })).toMatch(/timeout/);
    expect(check({ command: 'x', Command: 'y' })).toMatch(/Command/);
  });
});
