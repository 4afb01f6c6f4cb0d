import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError, badRequest, conflict, forbidden, notFound, payloadTooLarge, unauthorized, unavailable } from './app-error.ts';
import { errorBody } from './error-body.ts';
import { validationError } from './zod-error.ts';

describe('errorBody', () => {
  it('carries the code and message of an AppError', () => {
    expect(errorBody(new AppError(409, 'name_taken', 'an agent named "a" already exists'))).toEqual({ error: { code: 'name_taken', message: 'an agent named "a" already exists' } });
  });

  it('carries details when there are some', () => {
    expect(errorBody(badRequest('validation_failed', 'cwd: bad', { field: 'cwd' }))).toEqual({ error: { code: 'validation_failed', message: 'cwd: bad', details: { field: 'cwd' } } });
  });

  it.each([
    ['a plain Error', new Error('password=hunter2 at /srv/app.ts:12')],
    ['a thrown string', 'boom'],
    ['undefined', undefined],
    ['a Postgres error', Object.assign(new Error('relation "jobs" does not exist'), { code: '42P01' })],
  ])('never leaks %s', (_what, err) => {
    const body = errorBody(err);
    expect(body).toEqual({ error: { code: 'internal', message: 'internal error; see the server log' } });
  });
});

describe('AppError helpers', () => {
  it.each([
    [badRequest('invalid_json', 'm'), 400, 'invalid_json', true],
    [unauthorized(), 401, 'unauthorized', true],
    [forbidden('m'), 403, 'forbidden', true],
    [notFound('job', 'job_x'), 404, 'not_found', true],
    [conflict('job_ended', 'm'), 409, 'job_ended', true],
    [payloadTooLarge(1024), 413, 'payload_too_large', true],
    [unavailable('m'), 503, 'unavailable', false],
    [new AppError(500, 'internal', 'm'), 500, 'internal', false],
  ])('%o has status %i and code %s', (err, status, code, expected) => {
    expect(err).toBeInstanceOf(Error);
    expect(err.status).toBe(status);
    expect(err.code).toBe(code);
    expect(err.expected).toBe(expected);
  });

  it('names what was not found and the limit that was passed', () => {
    expect(notFound('job', 'job_abc').message).toBe('job "job_abc" does not exist');
    expect(payloadTooLarge(1048576).message).toContain('1048576 bytes');
  });
});

describe('validationError', () => {
  const schema = z.object({ command: z.string().min(1, 'must not be empty'), target: z.object({ agent: z.string() }), tags: z.array(z.number()) }).strict();
  const fail = (value: unknown, where?: string) => {
    const r = schema.safeParse(value);
    if (r.success) throw new Error('expected a failure');
    return validationError(r.error, where);
  };

  it('is a 400 validation_failed naming the field', () => {
    const err = fail({ command: '', target: { agent: 'a' }, tags: [] });
    expect(err.status).toBe(400);
    expect(err.code).toBe('validation_failed');
    expect(err.message).toBe('command: must not be empty');
    expect(err.details).toEqual({ field: 'command' });
  });

  it('joins nested paths with dots', () => {
    expect(fail({ command: 'x', target: { agent: 1 }, tags: [] }).details).toEqual({ field: 'target.agent' });
    expect(fail({ command: 'x', target: { agent: 'a' }, tags: [1, 'two'] }).details).toEqual({ field: 'tags.1' });
  });

  it('names the whole body, or the given place, when no field is at fault', () => {
    expect(fail('not an object').details).toEqual({ field: 'body' });
    expect(fail('not an object', 'query').message).toMatch(/^query: /);
  });

  it("gives a bad record key the key schema's own message", () => {
    const r = z.object({ env: z.record(z.string().regex(/^[A-Z]+$/, 'names are upper case'), z.string()) }).safeParse({ env: { lower: 'x' } });
    expect(validationError(r.error!).message).toBe('env.lower: names are upper case');
  });

  it('names an unknown field', () => {
    expect(fail({ command: 'x', target: { agent: 'a' }, tags: [], timeout: 5 }).message).toContain('timeout');
  });
});
