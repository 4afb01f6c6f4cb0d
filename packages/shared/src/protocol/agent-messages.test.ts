import { describe, expect, it } from 'vitest';
import { AgentToServer, ServerToAgent } from './agent-messages.ts';
import { PROTOCOL_VERSION } from './constants.ts';

const jobId = 'job_0123456789abcdefghij';
const hello = { type: 'hello', v: 1, agentVersion: '0.1.0', hostname: 'vm-1', os: 'linux', arch: 'x64', labels: { zone: 'eu' }, jobs: [] };
const started = { type: 'started', v: 1, jobId, attempt: 1, pid: 4242 };
const exit = { type: 'exit', v: 1, jobId, attempt: 1, exitCode: 0, signal: null, nextSeq: 3, truncated: false };
const heartbeat = { type: 'heartbeat', v: 1, running: 2 };

/** The first issue's path, or 'ok'. */
const agentFrame = (frame: unknown) => {
  const r = AgentToServer.safeParse(frame);
  return r.success ? 'ok' : r.error.issues[0]!.path.join('.');
};
const serverFrame = (frame: unknown) => {
  const r = ServerToAgent.safeParse(frame);
  return r.success ? 'ok' : r.error.issues[0]!.path.join('.');
};

describe('agent → server frames', () => {
  it('version is 1', () => expect(PROTOCOL_VERSION).toBe(1));

  describe('§1 hello', () => {
    it('accepts a minimal hello and one reporting running and ended jobs', () => {
      expect(agentFrame({ ...hello, labels: undefined })).toBe('ok');
      expect(
        agentFrame({ ...hello, jobs: [{ jobId, attempt: 1, nextSeq: 10 }, { jobId: 'job_zzzzzzzzzzzzzzzzzzzz', attempt: 0, nextSeq: 0, exit: { exitCode: null, signal: 'SIGKILL' } }] }),
      ).toBe('ok');
    });

    it.each([
      ['a missing version', { ...hello, v: undefined }, 'v'],
      ['another version', { ...hello, v: 2 }, 'v'],
      ['a version as a string', { ...hello, v: '1' }, 'v'],
      ['a missing hostname', { ...hello, hostname: undefined }, 'hostname'],
      ['an overlong hostname', { ...hello, hostname: 'h'.repeat(256) }, 'hostname'],
      ['an overlong label key', { ...hello, labels: { ['k'.repeat(64)]: 'v' } }, 'labels.' + 'k'.repeat(64)],
      ['labels that are not strings', { ...hello, labels: { zone: 1 } }, 'labels.zone'],
      ['jobs not a list', { ...hello, jobs: {} }, 'jobs'],
      ['a job id of the wrong shape', { ...hello, jobs: [{ jobId: 'job_1', attempt: 0, nextSeq: 0 }] }, 'jobs.0.jobId'],
      ['a negative nextSeq', { ...hello, jobs: [{ jobId, attempt: 0, nextSeq: -1 }] }, 'jobs.0.nextSeq'],
      ['a nextSeq past 2^31-1', { ...hello, jobs: [{ jobId, attempt: 0, nextSeq: 2 ** 31 }] }, 'jobs.0.nextSeq'],
      ['a fractional attempt', { ...hello, jobs: [{ jobId, attempt: 0.5, nextSeq: 0 }] }, 'jobs.0.attempt'],
      ['an exit without its fields', { ...hello, jobs: [{ jobId, attempt: 0, nextSeq: 0, exit: {} }] }, 'jobs.0.exit.exitCode'],
    ])('refuses %s', (_what, frame, path) => expect(agentFrame(frame)).toBe(path));

    it.each([
      ['a hostname with a NUL byte', { ...hello, hostname: 'vm\u0000' }, 'hostname'],
      ['an os with an unpaired surrogate', { ...hello, os: 'linux\ud800' }, 'os'],
      ['an agentVersion with a NUL byte', { ...hello, agentVersion: '\u0000' }, 'agentVersion'],
      ['a label value with a NUL byte', { ...hello, labels: { zone: 'eu\u0000' } }, 'labels.zone'],
      ['a label value with an unpaired surrogate', { ...hello, labels: { zone: '\udc00' } }, 'labels.zone'],
      ['a label key registration would refuse', { ...hello, labels: { 'a b': 'x' } }, 'labels.a b'],
      ['a label key starting with a dot', { ...hello, labels: { '.hidden': 'x' } }, 'labels..hidden'],
      ['a label value over 255 characters', { ...hello, labels: { zone: 'v'.repeat(256) } }, 'labels.zone'],
      ['more than 64 labels', { ...hello, labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }, 'labels'],
      ['a job exit signal with a NUL byte', { ...hello, jobs: [{ jobId, attempt: 0, nextSeq: 0, exit: { exitCode: null, signal: 'SIG\u0000' } }] }, 'jobs.0.exit.signal'],
    ])('§1 refuses %s (labels follow the registration rules; text must be storable)', (_what, frame, path) => expect(agentFrame(frame)).toBe(path));

    it('§1 accepts 64 labels, as registration does', () => {
      expect(agentFrame({ ...hello, labels: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k8s.io/k${i}`, 'v'.repeat(255)])) })).toBe('ok');
    });

    it('refuses more than 10,000 reported jobs', () => {
      expect(agentFrame({ ...hello, jobs: Array.from({ length: 10_001 }, () => ({ jobId, attempt: 0, nextSeq: 0 })) })).toBe('jobs');
    });
  });

  describe('§2 started', () => {
    it('accepts a pid or null', () => {
      expect(agentFrame(started)).toBe('ok');
      expect(agentFrame({ ...started, pid: null })).toBe('ok');
    });
    it.each([
      ['a missing pid', { ...started, pid: undefined }, 'pid'],
      ['a bad job id', { ...started, jobId: 'nope' }, 'jobId'],
      ['a negative attempt', { ...started, attempt: -1 }, 'attempt'],
    ])('refuses %s', (_what, frame, path) => expect(agentFrame(frame)).toBe(path));
  });

  describe('§3 exit', () => {
    it('accepts exits by code, by signal and with an error', () => {
      expect(agentFrame(exit)).toBe('ok');
      expect(agentFrame({ ...exit, exitCode: null, signal: 'SIGTERM' })).toBe('ok');
      expect(agentFrame({ ...exit, exitCode: null, error: { code: 'spawn_failed', message: 'ENOENT' } })).toBe('ok');
    });
    it.each([
      ['a fractional exit code', { ...exit, exitCode: 1.5 }, 'exitCode'],
      ['an overlong signal', { ...exit, signal: 'S'.repeat(17) }, 'signal'],
      ['a missing nextSeq', { ...exit, nextSeq: undefined }, 'nextSeq'],
      ['truncated as a string', { ...exit, truncated: 'no' }, 'truncated'],
      ['an error without a message', { ...exit, error: { code: 'x' } }, 'error.message'],
      ['an overlong error message', { ...exit, error: { code: 'x', message: 'm'.repeat(4097) } }, 'error.message'],
      ['an error message with a NUL byte', { ...exit, error: { code: 'x', message: 'a\u0000b' } }, 'error.message'],
      ['an error code with an unpaired surrogate', { ...exit, error: { code: '\ud800', message: 'm' } }, 'error.code'],
      ['a signal with a NUL byte', { ...exit, exitCode: null, signal: '\u0000' }, 'signal'],
    ])('refuses %s', (_what, frame, path) => expect(agentFrame(frame)).toBe(path));
  });

  describe('§5 heartbeat', () => {
    it('accepts a count of running jobs', () => expect(agentFrame(heartbeat)).toBe('ok'));
    it.each([
      ['a negative count', { ...heartbeat, running: -1 }, 'running'],
      ['a missing count', { type: 'heartbeat', v: 1 }, 'running'],
    ])('refuses %s', (_what, frame, path) => expect(agentFrame(frame)).toBe(path));
  });

  it.each([
    ['an unknown type', { type: 'hack', v: 1 }],
    ['no type', { v: 1 }],
    ['a server message sent by an agent', { type: 'ack', v: 1, jobId, seq: 0 }],
    ['an array', [hello]],
    ['null', null],
    ['a string', 'hello'],
  ])('refuses %s', (_what, frame) => expect(agentFrame(frame)).not.toBe('ok'));
});

describe('server → agent frames', () => {
  const welcome = { type: 'welcome', v: 1, agentId: 'agt_0123456789abcdefghij', heartbeatMs: 10_000, resume: [{ jobId, nextSeq: 4 }], abandon: [] };
  const run = { type: 'run', v: 1, jobId, attempt: 1, command: 'echo hi', env: { A: 'b' }, cwd: null, maxOutputBytes: 1024, tailBytes: 0 };

  it('accepts one of each', () => {
    for (const frame of [
      welcome,
      run,
      { type: 'ack', v: 1, jobId, seq: 0 },
      { type: 'exit_ack', v: 1, jobId },
      { type: 'cancel', v: 1, jobId, graceMs: 0 },
      { type: 'abandon', v: 1, jobId },
    ])
      expect(serverFrame(frame)).toBe('ok');
  });

  it.each([
    ['§1 welcome with a zero heartbeat', { ...welcome, heartbeatMs: 0 }, 'heartbeatMs'],
    ['§1 welcome with a bad job id to abandon', { ...welcome, abandon: ['x'] }, 'abandon.0'],
    ['§2 run with an empty command', { ...run, command: '' }, 'command'],
    ['§2 run with a command over 64 KiB', { ...run, command: 'x'.repeat(64 * 1024 + 1) }, 'command'],
    ['§2 run with a non-string env value', { ...run, env: { A: 1 } }, 'env.A'],
    ['§3 ack with a negative seq', { type: 'ack', v: 1, jobId, seq: -1 }, 'seq'],
    ['§4 cancel with a grace over an hour', { type: 'cancel', v: 1, jobId, graceMs: 3_600_001 }, 'graceMs'],
    ['§4 cancel without a grace', { type: 'cancel', v: 1, jobId }, 'graceMs'],
  ])('refuses %s', (_what, frame, path) => expect(serverFrame(frame)).toBe(path));

  it('refuses agent messages sent by a server', () => expect(serverFrame(hello)).not.toBe('ok'));
});
