import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { QueuedJobData } from '@vmo/shared/queue';
import { oneDeliveryPerJob } from './one-delivery-per-job.ts';

const delivery = (jobId: string) => ({ data: { jobId } }) as Job<QueuedJobData>;

describe('oneDeliveryPerJob', () => {
  it('processes a second delivery of a job in progress not at all: it waits for the first and returns', async () => {
    const started: string[] = [];
    let finish!: () => void;
    const process = oneDeliveryPerJob(async (job) => {
      started.push(job.data.jobId);
      if (started.length === 1) await new Promise<void>((r) => (finish = r));
    });
    let firstDone = false;
    let secondDone = false;
    const first = process(delivery('job_a')).then(() => (firstDone = true));
    const second = process(delivery('job_a')).then(() => (secondDone = true));
    await process(delivery('job_b')); // another job is not held up
    expect(started).toEqual(['job_a', 'job_b']);
    expect([firstDone, secondDone]).toEqual([false, false]);
    finish();
    await Promise.all([first, second]);
    expect(started).toEqual(['job_a', 'job_b']);
    // Once the first is over, a later delivery is processed again.
    await process(delivery('job_a'));
    expect(started).toEqual(['job_a', 'job_b', 'job_a']);
  });

  it('a second delivery returns normally when the first fails; the failure stays with the first', async () => {
    let fail!: (err: Error) => void;
    const process = oneDeliveryPerJob(() => new Promise<void>((_, reject) => (fail = reject)));
    const first = process(delivery('job_c'));
    const second = process(delivery('job_c'));
    fail(new Error('Postgres unreachable'));
    await expect(first).rejects.toThrow('Postgres unreachable');
    await expect(second).resolves.toBeUndefined();
  });
});
