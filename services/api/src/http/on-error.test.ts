import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AppError } from '@vmo/shared/errors';
import { createErrorHandler } from './on-error.ts';

/** A real pino logger into memory: what an operator's log would hold. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

function appThrowing(err: Error) {
  const { log, lines } = capturedLog();
  const app = new Hono();
  app.onError(createErrorHandler(log));
  app.get('/x', () => {
    throw err;
  });
  return { app, lines };
}

describe('the error handler', () => {
  it('answers a store outage 503 and logs one warn line with its code, no stack', async () => {
    const driverError = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const { app, lines } = appThrowing(Object.assign(new Error('Failed query: select …'), { cause: driverError }));
    const res = await app.request('/x');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, cause: 'ECONNREFUSED', msg: 'request refused: a store is unavailable' });
    expect(JSON.stringify(lines[0])).not.toContain('stack');
  });

  it('logs a bug at error level with its stack, and answers 500 without internals', async () => {
    const { app, lines } = appThrowing(new TypeError('x is not a function'));
    const res = await app.request('/x');
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).not.toContain('x is not a function');
    expect(lines[0]).toMatchObject({ level: 50, msg: 'request failed' });
    expect(JSON.stringify(lines[0])).toContain('stack');
  });

  it('logs an expected error at warn with its code only', async () => {
    const { app, lines } = appThrowing(new AppError(404, 'not_found', 'no job job_x'));
    expect((await app.request('/x')).status).toBe(404);
    expect(lines[0]).toMatchObject({ level: 40, code: 'not_found' });
  });
});
