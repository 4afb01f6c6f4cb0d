import { describe, expect, it } from 'vitest';
import { validationError } from '../errors/zod-error.ts';
import { RunInput } from '../runs/run-input.ts';
import { JobInput } from './job-input.ts';

/** 'ok', or the message a client gets: `<field>: <what is wrong>`. */
function check(retry: unknown): string {
  const r = JobInput.safeParse({ command: 'x', retry });
  return r.success ? 'ok' : validationError(r.error).message;
}

describe('retry (issue 14)', () => {
  it('accepts every field, kept as given', () => {
    const retry = { max: 3, backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 1000, jitter: 0.5 }, on: { exitCodes: [1, 75], lost: true, agentOffline: true, timedOut: false } };
    expect(JobInput.parse({ command: 'x', retry }).retry).toEqual(retry);
    expect(check({ max: 0 })).toBe('ok');
    expect(check({ max: 100, backoff: { type: 'fixed', delayMs: 0 } })).toBe('ok');
    expect(check({ max: 1, on: { exitCodes: 'nonzero' } })).toBe('ok');
    expect(check({ max: 1, backoff: { type: 'exponential', delayMs: 5, maxDelayMs: 5, jitter: 1 } })).toBe('ok');
  });

  it('a run takes it for each child', () => {
    const r = RunInput.safeParse({ command: 'x', targets: { agents: ['a'] }, retry: { max: 2, backoff: { type: 'fixed', delayMs: -1 } } });
    expect(r.success ? 'ok' : validationError(r.error).message).toMatch(/^retry\.backoff\.delayMs: must be at least 0/);
    expect(RunInput.parse({ command: 'x', targets: { agents: ['a'] }, retry: { max: 2 } }).retry).toEqual({ max: 2 });
  });

  it.each([
    ['not an object', 3, /^retry: /],
    ['without max', {}, /^retry\.max: must be a whole number from 0 to 100/],
    ['max negative', { max: -1 }, /^retry\.max: must be at least 0/],
    ['max over 100', { max: 101 }, /^retry\.max: must be at most 100/],
    ['max a fraction', { max: 1.5 }, /^retry\.max: must be a whole number/],
    ['max a string', { max: '3' }, /^retry\.max: must be a whole number/],
    ['an unknown field', { max: 1, tries: 2 }, /^retry: .*tries/],
    ['backoff not an object', { max: 1, backoff: 'exponential' }, /^retry\.backoff: /],
    ['backoff without type', { max: 1, backoff: { delayMs: 1 } }, /^retry\.backoff\.type: must be "exponential" or "fixed"/],
    ['backoff of an unknown type', { max: 1, backoff: { type: 'linear', delayMs: 1 } }, /^retry\.backoff\.type: must be "exponential" or "fixed"/],
    ['backoff without delayMs', { max: 1, backoff: { type: 'fixed' } }, /^retry\.backoff\.delayMs: must be a whole number of milliseconds/],
    ['delayMs negative', { max: 1, backoff: { type: 'fixed', delayMs: -5 } }, /^retry\.backoff\.delayMs: must be at least 0/],
    ['delayMs over a day', { max: 1, backoff: { type: 'fixed', delayMs: 86_400_001 } }, /^retry\.backoff\.delayMs: must be at most 86400000/],
    ['delayMs a fraction', { max: 1, backoff: { type: 'fixed', delayMs: 1.5 } }, /^retry\.backoff\.delayMs: must be a whole number/],
    ['maxDelayMs below delayMs', { max: 1, backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 50 } }, /^retry\.backoff\.maxDelayMs: must be at least delayMs/],
    ['maxDelayMs over a day', { max: 1, backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 86_400_001 } }, /^retry\.backoff\.maxDelayMs: must be at most/],
    ['jitter over 1', { max: 1, backoff: { type: 'fixed', delayMs: 1, jitter: 1.5 } }, /^retry\.backoff\.jitter: must be at most 1/],
    ['jitter negative', { max: 1, backoff: { type: 'fixed', delayMs: 1, jitter: -0.1 } }, /^retry\.backoff\.jitter: must be at least 0/],
    ['jitter a string', { max: 1, backoff: { type: 'fixed', delayMs: 1, jitter: '0.2' } }, /^retry\.backoff\.jitter: must be a number from 0 to 1/],
    ['an unknown backoff field', { max: 1, backoff: { type: 'fixed', delayMs: 1, factor: 3 } }, /^retry\.backoff: .*factor/],
    ['on not an object', { max: 1, on: 'nonzero' }, /^retry\.on: /],
    ['on that retries nothing', { max: 1, on: {} }, /^retry\.on: must retry on something/],
    ['on with every flag false', { max: 1, on: { lost: false } }, /^retry\.on: must retry on something/],
    ['exitCodes of a wrong word', { max: 1, on: { exitCodes: 'any' } }, /^retry\.on\.exitCodes: must be "nonzero" or a list of 1 to 255 exit codes/],
    ['exitCodes empty', { max: 1, on: { exitCodes: [] } }, /^retry\.on\.exitCodes: must not be empty/],
    ['exit code 0', { max: 1, on: { exitCodes: [0] } }, /^retry\.on\.exitCodes\.0: must be exit codes from 1 to 255 \(0 is success/],
    ['exit code 256', { max: 1, on: { exitCodes: [1, 256] } }, /^retry\.on\.exitCodes\.1: must be exit codes from 1 to 255/],
    ['exit code a string', { max: 1, on: { exitCodes: ['1'] } }, /^retry\.on\.exitCodes: must be "nonzero" or a list of 1 to 255 exit codes, each from 1 to 255/],
    ['too many exit codes', { max: 1, on: { exitCodes: Array.from({ length: 256 }, (_, i) => (i % 255) + 1) } }, /^retry\.on\.exitCodes: (at most 255 codes|must be "nonzero" or a list of 1 to 255 exit codes)/],
    ['lost not a boolean', { max: 1, on: { lost: 'yes' } }, /^retry\.on\.lost: must be true or false/],
    ['agentOffline not a boolean', { max: 1, on: { agentOffline: 1 } }, /^retry\.on\.agentOffline: must be true or false/],
    ['timedOut not a boolean', { max: 1, on: { timedOut: null } }, /^retry\.on\.timedOut: must be true or false/],
    ['an unknown on field', { max: 1, on: { lost: true, canceled: true } }, /^retry\.on: .*canceled/],
  ])('refuses %s', (_what, retry, message) => expect(check(retry)).toMatch(message));
});
