import { describe, expect, it } from 'vitest';
import { LogLine } from '@vmo/shared/log-line';
import { createLogger } from './logger.ts';

function capture(level: Parameters<typeof createLogger>[0] = 'debug', format: 'json' | 'pretty' = 'json') {
  const out: string[] = [];
  return { log: createLogger(level, { component: 'vmo-agent' }, (l) => void out.push(l), format), out };
}

describe("the agent's log lines: the services' schema, without pino (issue 12)", () => {
  it('parse against the one schema: ISO time, numeric level, service "agent", msg, ids by name', () => {
    const { log, out } = capture();
    log.info('connected', { url: 'http://127.0.0.1:3121/', agentId: 'agt_1', heartbeatMs: 5000 });
    log.child({ jobId: 'job_1' }).warn('job abandoned by the server: killing it');
    log.error('could not connect', { err: new Error('ECONNREFUSED') });
    const lines = out.map((l) => LogLine.parse(JSON.parse(l)));
    expect(lines[0]).toMatchObject({ level: 30, service: 'agent', msg: 'connected', agentId: 'agt_1' });
    expect(lines[1]).toMatchObject({ level: 40, service: 'agent', jobId: 'job_1' });
    expect(lines[2]).toMatchObject({ level: 50, err: 'ECONNREFUSED' });
    expect(new Date(lines[0]!.time).toISOString()).toBe(lines[0]!.time);
    // People grep for `"msg":"connected".*"url"`: the message comes before the fields.
    expect(out[0]).toMatch(/"msg":"connected".*"url":"http/);
  });

  it('censors the one list of secret keys (@vmo/shared/log-line) at any depth: a nested token never reaches the output', () => {
    const { log, out } = capture('info');
    log.info('nested', { a: { b: { token: 'CANARY-agent-nested' } } });
    log.child({ ctx: { secretEnv: { K: 'CANARY-agent-binding' } } }).info('binding', { list: [{ Password: 'CANARY-agent-list' }] });
    expect(out).toHaveLength(2);
    expect(out.join('')).not.toContain('CANARY');
    expect(JSON.parse(out[0]!)).toMatchObject({ a: { b: { token: '[redacted]' } } });
  });

  it('respects the level and censors tokens, env, headers at any depth', () => {
    const { log, out } = capture('info');
    log.debug('not written');
    log.info('run', { job: { env: { A: 'secret-value' }, token: 'vmo_agt_x' }, headers: { authorization: 'Bearer y' } });
    expect(out).toHaveLength(1);
    expect(out[0]).not.toMatch(/secret-value|vmo_agt_x|Bearer/);
    expect(createLogger('silent', {}, (l) => void out.push(l)).error('x')).toBeUndefined();
    expect(out).toHaveLength(1);
  });

  it('VMO_LOG_FORMAT=pretty: the same readable line as the services', () => {
    const { log, out } = capture('info', 'pretty');
    log.info('job ended', { jobId: 'job_2', exitCode: 3 });
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  agent  job ended  jobId=job_2 component=vmo-agent exitCode=3\n$/);
  });
});
