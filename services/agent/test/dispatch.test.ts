import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAgentUnderTest } from './agent-fixture.ts';
import { newJobId, runMessage } from './messages.ts';
import { waitFor } from './wait-for.ts';

const scratch = () => mkdtempSync(join(tmpdir(), 'vmo-agent-test-'));

describe('§2 dispatch', () => {
  it('runs the command, answers started, streams stdout and stderr byte-exact, reports the exit code', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, `printf 'out\\377\\000'; printf 'err' >&2; exit 3`));
    const started = await waitFor('started', () => gw.received('started', jobId)[0]);
    expect(started).toMatchObject({ attempt: 1, pid: expect.any(Number) });
    const exit = await waitFor('exit', () => gw.exitOf(jobId));
    expect(exit).toMatchObject({ exitCode: 3, signal: null, truncated: false, nextSeq: gw.storedPrefix(jobId) });
    expect(exit.error).toBeUndefined();
    expect(gw.output(jobId, 1)).toEqual(Buffer.from([...Buffer.from('out'), 0xff, 0x00]));
    expect(gw.output(jobId, 2).toString()).toBe('err');
  });

  it('gives the command its env over a minimal base, and its cwd', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const dir = scratch();
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'echo "$VMO_JOB_ID $FOO $(pwd) ${VMO_AGENT_TOKEN:-unset}"', { env: { FOO: 'bar' }, cwd: dir }));
    await waitFor('exit', () => gw.exitOf(jobId));
    expect(gw.output(jobId, 1).toString()).toBe(`${jobId} bar ${dir} unset\n`);
  });

  it('answers a repeated run with started again and never starts a second process', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const dir = scratch();
    const jobId = newJobId();
    const run = runMessage(jobId, `echo ran >> ${dir}/runs; while [ ! -e ${dir}/go ]; do sleep 0.01; done`);
    gw.send(run);
    await waitFor('started', () => gw.received('started', jobId).length === 1);
    gw.send(run);
    gw.send(run);
    const [first, ...again] = await waitFor('started twice more', () => gw.received('started', jobId).length === 3 && gw.received('started', jobId));
    expect(again.map((s) => s.pid)).toEqual([first!.pid, first!.pid]);
    writeFileSync(join(dir, 'go'), '');
    await waitFor('exit', () => gw.exitOf(jobId));
    expect(readFileSync(join(dir, 'runs'), 'utf8')).toBe('ran\n');
    expect(gw.received('exit', jobId)).toHaveLength(1);
  });

  it('does not start a job again for a late run that arrives after its exit was acknowledged', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const dir = scratch();
    const jobId = newJobId();
    const run = runMessage(jobId, `echo ran >> ${dir}/runs`);
    gw.send(run);
    await waitFor('exit', () => gw.exitOf(jobId));
    // The fake gateway acknowledges the exit; a dispatch still in flight then arrives.
    gw.send(run);
    const marker = newJobId();
    gw.send(runMessage(marker, 'true'));
    await waitFor('the next job to exit', () => gw.exitOf(marker));
    expect(readFileSync(join(dir, 'runs'), 'utf8')).toBe('ran\n');
    expect(gw.received('started', jobId)).toHaveLength(1);
  });

  it('reports a command that cannot start (missing cwd) as spawn_failed', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'true', { cwd: '/nonexistent/vmo-test' }));
    const exit = await waitFor('exit', () => gw.exitOf(jobId));
    expect(exit).toMatchObject({ exitCode: null, signal: null, nextSeq: 0, error: { code: 'spawn_failed' } });
    expect(gw.received('started', jobId)).toEqual([expect.objectContaining({ pid: null })]);
  });
});

describe('§3 output, acks, exit', () => {
  it('applies the output cap: head, marker on stderr, tail; exit.truncated', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, `printf 'HEAD'; head -c 100000 /dev/zero; printf 'TAIL'`, { maxOutputBytes: 1000, tailBytes: 100 }));
    const exit = await waitFor('exit', () => gw.exitOf(jobId));
    expect(exit.truncated).toBe(true);
    const stdout = gw.output(jobId, 1);
    expect(stdout.length).toBe(1000);
    expect(stdout.subarray(0, 4).toString()).toBe('HEAD');
    expect(stdout.subarray(-4).toString()).toBe('TAIL');
    expect(gw.output(jobId, 2).toString()).toMatch(/99008 bytes left out/);
  });

  it('with no acks, blocks the command at the buffer bound; acks let it finish with every byte', async () => {
    const bufferBytes = 256 * 1024;
    const { gw } = await startAgentUnderTest({ agent: { bufferBytes } });
    gw.autoAck = false;
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    const total = 20_000_000;
    gw.send(runMessage(jobId, `head -c ${total} /dev/zero`));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    await waitFor('the buffer to fill', () => gw.storedBytes(jobId) >= bufferBytes);
    // Observe for a while: nothing more may arrive past the bound plus one pipe read, and the
    // command must still be there, blocked on its write.
    const slack = 64 * 1024;
    const until = Date.now() + 300;
    while (Date.now() < until) {
      expect(gw.storedBytes(jobId)).toBeLessThanOrEqual(bufferBytes + slack);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(gw.exitOf(jobId)).toBeUndefined();
    expect(() => process.kill(pid!, 0)).not.toThrow();

    gw.autoAck = true;
    gw.ackEverything();
    const exit = await waitFor('exit', () => gw.exitOf(jobId), 15_000);
    expect(exit).toMatchObject({ exitCode: 0, truncated: false });
    expect(gw.output(jobId, 1).length).toBe(total);
  });

  it('forgets a job after exit_ack: the next hello no longer lists it', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'echo hi'));
    await waitFor('exit', () => gw.exitOf(jobId));
    gw.current!.ws.close(1012, 'restart');
    const hello = await waitFor('second hello', () => gw.connections[1]?.hello);
    expect(hello.jobs).toEqual([]);
  });
});
