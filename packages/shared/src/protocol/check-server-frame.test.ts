import { describe, expect, it } from 'vitest';
import { ServerToAgent } from './agent-messages.ts';
import { checkServerFrame } from './check-server-frame.ts';

/**
 * The agent's hand-written check of server frames against the zod schemas it replaces in the
 * bundle (the reference): over a corpus of valid frames and of every one broken field by field,
 * both accept the same frames with the same output and refuse the same frames.
 */
const jobId = 'job_0123456789abcdefghij';
const session = 'shs_0123456789abcdefghij';
const attach = 'att_0123456789abcdefghij';

const valid: Record<string, unknown>[] = [
  { type: 'welcome', v: 1, agentId: 'agt_x', heartbeatMs: 10_000, resume: [{ jobId, nextSeq: 3 }], abandon: [jobId] },
  { type: 'welcome', v: 1, agentId: '', heartbeatMs: 1, resume: [], abandon: [] },
  { type: 'run', v: 1, jobId, attempt: 1, command: 'echo hi', env: { A: 'b' }, cwd: null, maxOutputBytes: 1024, tailBytes: 0 },
  { type: 'run', v: 1, jobId, attempt: 0, command: 'x'.repeat(64 * 1024), env: {}, cwd: '/tmp', maxOutputBytes: 1, tailBytes: 5, secretEnv: { S: 'v' } },
  { type: 'ack', v: 1, jobId, seq: 0 },
  { type: 'ack', v: 1, jobId, seq: 2 ** 31 - 1 },
  { type: 'exit_ack', v: 1, jobId },
  { type: 'cancel', v: 1, jobId, graceMs: 0 },
  { type: 'cancel', v: 1, jobId, graceMs: 3_600_000 },
  { type: 'abandon', v: 1, jobId },
  { type: 'shell_open', v: 1, session, attach, create: true, offset: 0, cols: 80, rows: 24, command: null, graceMs: 0, ringBytes: 64 * 1024 },
  { type: 'shell_open', v: 1, session, attach, create: false, offset: 2 ** 48 - 1, cols: '80', rows: true, command: 'bash', graceMs: 24 * 3_600_000, ringBytes: 64 * 1024 * 1024 },
  { type: 'shell_input', v: 1, session, data: 'aGk=' },
  { type: 'shell_input', v: 1, session, data: '' },
  { type: 'shell_resize', v: 1, session, cols: 1, rows: 1000 },
  { type: 'shell_resize', v: 1, session, cols: [7], rows: ' 9 ' },
  { type: 'shell_ack', v: 1, session, attach, offset: 12 },
  { type: 'shell_detach', v: 1, session, attach },
];

/** Values a field could wrongly (or, for coerced fields, rightly) hold. */
const odd: unknown[] = [
  undefined, null, true, false, 0, -1, 1, 1.5, 2 ** 31, 2 ** 48, 2 ** 53, -0, 1e21, '', '1', '80', 'x', ' ', '0x10', 'aGk', 'aGk==',
  jobId, session, attach, 'job_0123456789ABCDEFGHIJ', [], [1], [jobId], {}, { a: 'b' }, { a: 1 }, [{ jobId, nextSeq: 1 }], [{ jobId, nextSeq: -1 }],
  'x'.repeat(4097), 'x'.repeat(64 * 1024 + 1), 'QUFB'.repeat(24 * 1024 + 1), 1001, 3_600_001, 64 * 1024 - 1,
];

function corpus(): unknown[] {
  const out: unknown[] = [null, [], 'welcome', 1, {}, { type: 'nope', v: 1 }, { type: 'toString', v: 1 }, { type: '__proto__', v: 1 }];
  for (const frame of valid) {
    out.push(frame, { ...frame, extra: 'dropped' }, { ...frame, v: 2 }, { ...frame, v: '1' }, { ...frame, type: undefined });
    for (const key of Object.keys(frame)) {
      if (key === 'type') continue;
      for (const value of odd) out.push({ ...frame, [key]: value });
    }
  }
  return out;
}

describe('checkServerFrame agrees with ServerToAgent (the zod reference)', () => {
  it('accepts exactly what the schema accepts, with the same output, and refuses exactly what it refuses', () => {
    let accepted = 0;
    let refused = 0;
    for (const frame of corpus()) {
      const reference = ServerToAgent.safeParse(frame);
      const hand = checkServerFrame(frame);
      expect(hand.ok, JSON.stringify(frame)?.slice(0, 300)).toBe(reference.success);
      if (reference.success && hand.ok) {
        expect(hand.frame).toEqual(reference.data);
        accepted++;
      } else refused++;
    }
    // The corpus exercises both sides.
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(500);
  });

  it('says which field is wrong', () => {
    expect(checkServerFrame({ type: 'ack', v: 1, jobId, seq: -1 })).toMatchObject({ ok: false, path: 'seq' });
    expect(checkServerFrame({ type: 'welcome', v: 1, agentId: 'a', heartbeatMs: 1, resume: [{ jobId: 'job_1', nextSeq: 0 }], abandon: [] })).toMatchObject({ ok: false, path: 'resume.0.jobId' });
    expect(checkServerFrame({ type: 'hello', v: 1 })).toMatchObject({ ok: false, path: 'type' });
  });
});
