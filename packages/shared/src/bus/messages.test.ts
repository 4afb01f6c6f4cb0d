import { describe, expect, it } from 'vitest';
import { keys } from '../redis.ts';
import { BUS_VERSION, decode, FAMILIES } from './families.ts';
import { encodeJobOutput } from './messages/job-output.ts';

const jobId = 'job_0123456789abcdefghij';
const k = keys('vmo');

describe('§1 channels', () => {
  it('puts every family under the prefix, output and events of a job apart', () => {
    expect(FAMILIES.jobEvents.channel(k, jobId)).toBe(`vmo:job:${jobId}:ev`);
    expect(FAMILIES.jobOutput.channel(k, jobId)).toBe(`vmo:job:${jobId}:out`);
    expect(FAMILIES.agentCommands.channel(k, 'agt_1')).toBe('vmo:agent:agt_1');
    expect(FAMILIES.control.channel(k, '')).toBe('vmo:control');
  });
});

describe('§2 envelope', () => {
  const status = { v: 1, type: 'status', status: 'running' };
  it('decodes a message of its family', () => {
    expect(BUS_VERSION).toBe(1);
    expect(decode('jobEvents', JSON.stringify(status))).toEqual(status);
  });

  it.each([
    ['not JSON', 'nope'],
    ['no version', JSON.stringify({ type: 'status', status: 'running' })],
    ['another version', JSON.stringify({ ...status, v: 2 })],
    ['the version as a string', JSON.stringify({ ...status, v: '1' })],
    ['an unknown type', JSON.stringify({ v: 1, type: 'paused' })],
    ['the old unversioned shape', JSON.stringify({ t: 'end', status: 'succeeded', exitCode: 0, signal: null })],
    ['a message of another family', JSON.stringify({ v: 1, type: 'output', chunks: [] })],
  ])('drops %s', (_what, raw) => expect(decode('jobEvents', raw)).toBeUndefined());
});

describe('§3 job events', () => {
  it.each([
    [{ v: 1, type: 'status', status: 'running' }],
    [{ v: 1, type: 'started', attempt: 2 }],
    [{ v: 1, type: 'end', status: 'failed', exitCode: 3, signal: null }],
    [{ v: 1, type: 'end', status: 'canceled', exitCode: null, signal: 'SIGTERM' }],
  ])('accepts %j', (msg) => expect(decode('jobEvents', JSON.stringify(msg))).toEqual(msg));

  it.each([
    ['an unknown status', { v: 1, type: 'status', status: 'paused' }],
    ['an end without its exit code', { v: 1, type: 'end', status: 'failed', signal: null }],
    ['a fractional attempt', { v: 1, type: 'started', attempt: 1.5 }],
  ])('refuses %s', (_what, msg) => expect(decode('jobEvents', JSON.stringify(msg))).toBeUndefined());
});

describe('§4 job output', () => {
  const chunks = [
    { attempt: 2, seq: 0, stream: 1 as const, data: Buffer.from('hi\n') },
    { seq: 1, stream: 2 as const, data: Buffer.alloc(0) },
    { attempt: 2, seq: 2, stream: 1 as const, data: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) },
  ];
  const head = (cs: unknown[]) => Buffer.from(JSON.stringify({ v: 2, type: 'output', chunks: cs }) + '\n');
  it('carries a batch of chunks, bytes exact (newlines and every byte value in the data)', () =>
    expect(decode('jobOutput', encodeJobOutput(chunks))).toEqual({ v: 2, type: 'output', chunks }));
  it('reads a v1 message (JSON, base64) from a node not upgraded yet', () =>
    expect(decode('jobOutput', JSON.stringify({ v: 1, type: 'output', chunks: [{ attempt: 1, seq: 0, stream: 1, data: 'aGk=' }] }))).toEqual({
      v: 2,
      type: 'output',
      chunks: [{ attempt: 1, seq: 0, stream: 1, data: Buffer.from('hi') }],
    }));
  it.each([
    ['a stream other than 1 or 2', Buffer.concat([head([{ seq: 0, stream: 3, bytes: 1 }]), Buffer.from('x')])],
    ['fewer bytes than the head says', Buffer.concat([head([{ seq: 0, stream: 1, bytes: 5 }]), Buffer.from('x')])],
    ['more bytes than the head says', Buffer.concat([head([{ seq: 0, stream: 1, bytes: 1 }]), Buffer.from('xy')])],
    ['a v1 chunk whose data is not a string', Buffer.from(JSON.stringify({ v: 1, type: 'output', chunks: [{ seq: 0, stream: 1, data: [1] }] }))],
    ['an event on the output channel', Buffer.from(JSON.stringify({ v: 1, type: 'end', status: 'failed', exitCode: 1, signal: null }))],
    ['a head that is not JSON', Buffer.from('nope\nx')],
  ])('refuses %s', (_what, raw) => expect(decode('jobOutput', raw)).toBeUndefined());
});

describe('§5 agent commands', () => {
  it.each([
    [{ v: 1, type: 'run', jobId, attempt: 1, command: 'true', env: {}, cwd: null, maxOutputBytes: 1, tailBytes: 1 }],
    [{ v: 1, type: 'cancel', jobId, graceMs: 10 }],
    [{ v: 1, type: 'abandon', jobId }],
    [{ v: 1, type: 'takeover', connectionId: 'c1' }],
    [{ v: 1, type: 'revoke' }],
    [{ v: 1, type: 'token_rotated' }],
  ])('accepts %j', (msg) => expect(decode('agentCommands', JSON.stringify(msg))).toEqual(msg));

  it('refuses a run without its command', () => {
    expect(decode('agentCommands', JSON.stringify({ v: 1, type: 'run', jobId, attempt: 1, env: {}, cwd: null, maxOutputBytes: 1, tailBytes: 1 }))).toBeUndefined();
  });
});

describe('§6 control', () => {
  it('accepts a cancel and access_changed, and nothing else', () => {
    expect(decode('control', JSON.stringify({ v: 1, type: 'cancel', jobId, graceMs: 10 }))).toEqual({ v: 1, type: 'cancel', jobId, graceMs: 10 });
    expect(decode('control', JSON.stringify({ v: 1, type: 'access_changed' }))).toEqual({ v: 1, type: 'access_changed' });
    expect(decode('control', JSON.stringify({ v: 2, type: 'access_changed' }))).toBeUndefined();
    expect(decode('control', JSON.stringify({ v: 1, type: 'revoke' }))).toBeUndefined();
  });
});

describe('§10 changes', () => {
  it('puts the channel under the prefix, apart from control', () => expect(FAMILIES.changes.channel(k, '')).toBe('vmo:changes'));

  it('accepts a changed message, keeping a topic it does not know (a newer publisher) for the receiver to skip', () => {
    expect(decode('changes', JSON.stringify({ v: 1, type: 'changed', topics: ['jobs', 'runs'] }))).toEqual({ v: 1, type: 'changed', topics: ['jobs', 'runs'] });
    expect(decode('changes', JSON.stringify({ v: 1, type: 'changed', topics: ['jobs', 'schedules'] }))?.topics).toEqual(['jobs', 'schedules']);
  });

  it.each([
    ['no topics', { v: 1, type: 'changed', topics: [] }],
    ['a topic that is not a string', { v: 1, type: 'changed', topics: [1] }],
    ['another version', { v: 2, type: 'changed', topics: ['jobs'] }],
    ['a control message', { v: 1, type: 'access_changed' }],
  ])('refuses %s', (_what, msg) => expect(decode('changes', JSON.stringify(msg))).toBeUndefined());
});
