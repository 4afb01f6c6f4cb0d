import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import { LogLine, parseLogLines } from './log-line.ts';
import { formatPretty, logFormatOf } from './pretty.ts';

/** A service logger whose lines are kept, as they would go to stdout. */
function capture(name = 'api', format?: 'json' | 'pretty') {
  const out: string[] = [];
  const log = createLogger(name, 'debug', { format, destination: { write: (s: string) => void out.push(s) } });
  return { log, out };
}

describe('the services\' log lines (issue 12: one schema)', () => {
  it('every line is one JSON object of the schema: ISO time, numeric level, service, msg, ids by name', () => {
    const { log, out } = capture('worker');
    log.info({ jobId: 'job_1', runId: 'run_1', workerId: 'h:1:abc' }, 'job started');
    log.child({ role: 'api' }).warn({ requestId: 'req-1', err: new Error('boom') }, 'request refused');
    expect(out).toHaveLength(2);
    const [start, refused] = out.map((l) => LogLine.parse(JSON.parse(l)));
    expect(start).toMatchObject({ level: 30, service: 'worker', msg: 'job started', jobId: 'job_1', runId: 'run_1', workerId: 'h:1:abc' });
    expect(new Date(start!.time).toISOString()).toBe(start!.time);
    expect(refused).toMatchObject({ level: 40, service: 'worker', role: 'api', requestId: 'req-1', err: { type: 'Error', message: 'boom' } });
    expect(out.every((l) => l.endsWith('}\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    // No pid/hostname/name of pino's own: the schema's fields only, plus what the line said.
    expect(Object.keys(start!).sort()).toEqual(['jobId', 'level', 'msg', 'runId', 'service', 'time', 'workerId']);
  });

  it('refuses lines of another shape (the agent\'s old one, pino\'s default)', () => {
    expect(LogLine.safeParse({ time: '2026-01-01T00:00:00.000Z', level: 'info', msg: 'x', component: 'vmo-agent' }).success).toBe(false);
    expect(LogLine.safeParse({ level: 30, time: 1767225600000, pid: 1, hostname: 'h', name: 'api', msg: 'x' }).success).toBe(false);
    expect(LogLine.safeParse({ time: '2026-01-01T00:00:00.000Z', level: 30, service: 'api', msg: 'x', jobId: 12 }).success).toBe(false);
  });

  it('parseLogLines keeps non-JSON lines apart and reports lines off the schema', () => {
    const { lines, invalid, other } = parseLogLines('vmo is running at http://x\n{"level":30,"time":"2026-01-01T00:00:00.000Z","service":"api","msg":"ok"}\n{"level":"info","msg":"old"}\n');
    expect(lines).toHaveLength(1);
    expect(other).toEqual(['vmo is running at http://x']);
    expect(invalid).toHaveLength(1);
  });

  it('VMO_LOG_FORMAT=pretty writes readable lines: time, level name, service, message, ids first, no JSON', () => {
    const { log, out } = capture('api', 'pretty');
    log.info({ status: 200, requestId: 'req-9', path: '/v1/jobs' }, 'request');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  api  request  requestId=req-9 status=200 path=\/v1\/jobs\n$/);
    expect(formatPretty({ time: '2026-01-01T10:00:00.000Z', level: 50, service: 'vmo', role: 'worker', msg: 'failed', err: { type: 'Error', message: 'x y', stack: 'Error: x y\n    at f (a.ts:1:1)' } })).toBe(
      '10:00:00.000 ERROR vmo/worker  failed  err="Error: x y"\n    at f (a.ts:1:1)\n',
    );
    expect(formatPretty({ time: '2026-01-01T10:00:00.000Z', level: 30, service: 'api', msg: 'm' }, true)).toContain('\x1b[32mINFO ');
  });

  it('VMO_LOG_FORMAT: json by default, pretty when asked, json and one warning for anything else', () => {
    expect(logFormatOf({})).toEqual({ format: 'json' });
    expect(logFormatOf({ VMO_LOG_FORMAT: 'pretty' })).toEqual({ format: 'pretty' });
    expect(logFormatOf({ VMO_LOG_FORMAT: 'yaml' })).toEqual({ format: 'json', problem: expect.stringContaining('VMO_LOG_FORMAT: must be json or pretty') });
  });
});
