import { describe, expect, it } from 'vitest';
import { OutputBuffer } from './output-buffer.ts';

const JOB_A = 'job_aaaaaaaaaaaaaaaaaaaa';
const JOB_B = 'job_bbbbbbbbbbbbbbbbbbbb';
const chunk = (seq: number, size: number) => ({ seq, stream: 1 as const, data: Buffer.alloc(size, seq) });

const setup = (bound: number) => {
  const events: boolean[] = [];
  const buffer = new OutputBuffer(bound, (p) => events.push(p));
  return { buffer, events };
};

describe('§3 OutputBuffer', () => {
  it('asks for a pause once the bound is reached, and only once', () => {
    const { buffer, events } = setup(100);
    buffer.add(JOB_A, chunk(0, 60));
    expect(events).toEqual([]);
    buffer.add(JOB_A, chunk(1, 40));
    buffer.add(JOB_A, chunk(2, 10));
    expect(events).toEqual([true]);
    expect(buffer.paused).toBe(true);
    expect(buffer.bytes).toBe(110);
  });

  it('resumes only below half of the bound', () => {
    const { buffer, events } = setup(100);
    for (let seq = 0; seq < 10; seq++) buffer.add(JOB_A, chunk(seq, 10));
    buffer.ack(JOB_A, 4); // 50 left: not below half
    expect(events).toEqual([true]);
    buffer.ack(JOB_A, 5);
    expect(events).toEqual([true, false]);
    expect(buffer.bytes).toBe(40);
  });

  it('acks are cumulative and per job', () => {
    const { buffer } = setup(1000);
    for (let seq = 0; seq < 3; seq++) buffer.add(JOB_A, chunk(seq, 10));
    for (let seq = 0; seq < 3; seq++) buffer.add(JOB_B, chunk(seq, 10));
    buffer.ack(JOB_A, 1);
    expect(buffer.from(JOB_A, 0).map((c) => c.seq)).toEqual([2]);
    expect(buffer.from(JOB_B, 0).map((c) => c.seq)).toEqual([0, 1, 2]);
    buffer.ack(JOB_A, 0); // an old ack changes nothing
    expect(buffer.bytes).toBe(40);
    buffer.ack(JOB_A, 99);
    expect(buffer.from(JOB_A, 0)).toEqual([]);
    expect(buffer.bytes).toBe(30);
  });

  it('never drops an unacknowledged chunk, however full', () => {
    const { buffer } = setup(50);
    for (let seq = 0; seq < 20; seq++) buffer.add(JOB_A, chunk(seq, 10));
    expect(buffer.from(JOB_A, 0).map((c) => c.seq)).toEqual([...Array(20).keys()]);
  });

  it('resends from a seq', () => {
    const { buffer } = setup(1000);
    for (let seq = 0; seq < 5; seq++) buffer.add(JOB_A, chunk(seq, 1));
    expect(buffer.from(JOB_A, 3).map((c) => c.seq)).toEqual([3, 4]);
  });

  it('dropJob frees the job and may resume', () => {
    const { buffer, events } = setup(20);
    buffer.add(JOB_A, chunk(0, 15));
    buffer.add(JOB_B, chunk(0, 5));
    buffer.dropJob(JOB_A);
    expect(events).toEqual([true, false]);
    expect(buffer.bytes).toBe(5);
  });
});
