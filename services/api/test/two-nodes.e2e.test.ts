import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followJob, TestSystem, uniqueSleepArg, type ApiClient } from '@vmo/testkit';
import { waitForNoProcess, waitForProcesses } from './job-behaviour-suite.ts';

/**
 * Across processes, as docs/architecture.md "Scaling" says: an agent held by API 1, the subscriber and the
 * submitter on API 2, the job run by either of two workers. They meet only in Redis and Postgres.
 */
describe('two API nodes and two workers', () => {
  let system: TestSystem;
  let api2: ApiClient;
  let agentId: string;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'two_nodes', apis: 2, workers: 2 });
    api2 = system.clientFor(1);
    agentId = (await system.startAgent('node1-agent', { servers: [system.apiUrls[0]!] })).id;
  });
  afterAll(async () => {
    await system?.stop();
  });

  const expectedLines = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}-${i + 1}\n`).join('');

  it('streams every byte exactly once, in order, to a subscriber on the other node, for ~20 jobs on local and agent targets', async () => {
    const jobs = await Promise.all(
      Array.from({ length: 20 }, async (_, k) => {
        const tag = `j${k}`;
        const target = k % 2 === 0 ? { type: 'agent', agent: 'node1-agent' } : { type: 'local' };
        // Some output on stderr too, so both streams cross the nodes.
        const job = await api2.submit({ command: `for i in $(seq 1 60); do echo ${tag}-$i; if [ $((i % 20)) = 0 ]; then echo ${tag}-err-$i >&2; fi; sleep 0.005; done`, target });
        const followed = followJob(system.apiUrls[1]!, system.token, job.id);
        return { job, tag, followed };
      }),
    );

    for (const { job, tag, followed } of jobs) {
      const got = await followed;
      expect(got.end, job.id).toEqual({ status: 'succeeded', exitCode: 0, signal: null });
      expect(got.closeCode).toBe(1000);
      expect(got.seqs, job.id).toEqual(got.seqs.map((_, i) => i)); // dense 0..n-1, no duplicate
      expect(got.stdout.toString(), job.id).toBe(expectedLines(tag, 60));
      expect(got.stderr.toString(), job.id).toBe(`${tag}-err-20\n${tag}-err-40\n${tag}-err-60\n`);
      expect(got.messages[got.messages.length - 1].type).toBe('end');
      // What was streamed is what is stored.
      const stored = await api2.logs(job.id);
      expect(stored.length).toBe(got.stdout.length + got.stderr.length);
      expect((await api2.logs(job.id, '?stream=stdout')).equals(got.stdout)).toBe(true);
    }
    const views = await Promise.all(jobs.map(({ job }) => api2.job(job.id)));
    expect(views.every((v) => v.status === 'succeeded')).toBe(true);
    expect(views.filter((v) => v.agentId === agentId).length).toBe(10);
  });

  it('cancels through API 2 a job running on the agent held by API 1, leaving no process', async () => {
    const marker = uniqueSleepArg();
    const job = await api2.submit({ command: `echo started; sleep ${marker} & sleep ${marker}; wait`, target: { type: 'agent', agent: agentId } });
    const followed = followJob(system.apiUrls[1]!, system.token, job.id);
    await api2.waitForStatus(job.id, 'running');
    await waitForProcesses(`^sleep ${marker}`, 2);

    const cancel = await api2.request('POST', `/v1/jobs/${job.id}/cancel`);
    expect(cancel.status).toBe(202);
    const got = await followed;
    expect(got.end?.status).toBe('canceled');
    expect(got.stdout.toString()).toBe('started\n');
    expect(got.closeCode).toBe(1000);
    await waitForNoProcess(`sleep ${marker}`);
    expect((await system.client.job(job.id)).status).toBe('canceled');
  });

  it('serves the same job from either node', async () => {
    const job = await system.client.submit({ command: 'printf "one\\ntwo\\n"', target: { type: 'agent', agent: 'node1-agent' } });
    await api2.waitForEnd(job.id);
    const [a, b] = await Promise.all([system.client.logs(job.id), api2.logs(job.id)]);
    expect(a.toString()).toBe('one\ntwo\n');
    expect(b.equals(a)).toBe(true);
    const [fa, fb] = await Promise.all([followJob(system.apiUrls[0]!, system.token, job.id), followJob(system.apiUrls[1]!, system.token, job.id)]);
    expect(fa.stdout.toString()).toBe('one\ntwo\n');
    expect(fb.stdout.equals(fa.stdout)).toBe(true);
    expect(fb.end).toEqual(fa.end);
  });
});
