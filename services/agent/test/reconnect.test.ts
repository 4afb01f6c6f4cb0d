import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@vmo/shared/protocol';
import { startAgentUnderTest } from './agent-fixture.ts';
import { newJobId, runMessage } from './messages.ts';
import { livePidsInGroup } from './process-group.ts';
import { waitFor } from './wait-for.ts';

const scratch = () => mkdtempSync(join(tmpdir(), 'vmo-agent-test-'));

describe('§6 reconnect, resume, fencing', () => {
  it('keeps the job running across a reconnect, lists it in hello, and resends from welcome.resume.nextSeq', async () => {
    const { gw } = await startAgentUnderTest();
    gw.autoAck = false; // keep everything in the agent's buffer, so any resume point can be served
    await waitFor('hello', () => gw.current?.hello);
    const dir = scratch();
    const part1 = join(dir, 'part1');
    const jobId = newJobId();
    gw.send(runMessage(jobId, `head -c 300000 /dev/urandom | base64 | tee ${part1}; while [ ! -e ${dir}/go ]; do sleep 0.01; done; echo part-two`));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    await waitFor('part one stored', () => existsSync(part1) && statSync(part1).size > 400_000 && gw.storedBytes(jobId) === statSync(part1).size);
    const produced = gw.storedPrefix(jobId);
    expect(produced).toBeGreaterThan(3);

    // The server "lost" everything from seq 2 and goes away (API node restart).
    for (let seq = 2; seq < produced; seq++) gw.chunks.get(jobId)!.delete(seq);
    gw.current!.ws.close(1012, 'restart');

    const hello = await waitFor('hello on the new connection', () => gw.connections[1]?.hello);
    expect(hello.jobs).toEqual([{ jobId, attempt: 1, nextSeq: produced }]);
    await waitFor('the resent chunks', () => gw.storedPrefix(jobId) === produced);
    const resent = gw.chunkLog.filter((c) => c.conn === 1).map((c) => c.seq);
    expect(resent[0]).toBe(2);
    expect(livePidsInGroup(pid!).length).toBeGreaterThan(0); // never interrupted

    writeFileSync(join(dir, 'go'), '');
    gw.ackEverything();
    gw.autoAck = true;
    const exit = await waitFor('exit', () => gw.exitOf(jobId));
    expect(exit).toMatchObject({ exitCode: 0, nextSeq: gw.storedPrefix(jobId) });
    expect(gw.output(jobId, 1).equals(Buffer.concat([readFileSync(part1), Buffer.from('part-two\n')]))).toBe(true);
  });

  it('reports an exit that happened while disconnected in hello, then resends the missing output and the exit', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const dir = scratch();
    const jobId = newJobId();
    gw.send(runMessage(jobId, `echo one; while [ ! -e ${dir}/go ]; do sleep 0.01; done; echo two`));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    await waitFor('first line stored', () => gw.storedPrefix(jobId) === 1);

    gw.refuseWith = 503;
    gw.current!.ws.close(1012, 'restart');
    await waitFor('the socket to close', () => gw.connections[0]!.closed);
    writeFileSync(join(dir, 'go'), '');
    await waitFor('the job to end', () => livePidsInGroup(pid!).length === 0);
    const refused = gw.upgrades;
    // The reconnect backoff has grown through the outage (0.5, 1, 2, 4 s… up to 30 s): allow for it.
    await waitFor('one more refused attempt after the end', () => gw.upgrades > refused, 45_000);
    gw.refuseWith = undefined;

    const hello = await waitFor('hello after the outage', () => gw.connections[1]?.hello, 45_000);
    expect(hello.jobs).toEqual([{ jobId, attempt: 1, nextSeq: 2, exit: { exitCode: 0, signal: null } }]);
    const exit = await waitFor('exit', () => gw.exitOf(jobId));
    expect(exit).toMatchObject({ exitCode: 0, nextSeq: 2 });
    expect(gw.output(jobId, 1).toString()).toBe('one\ntwo\n');
  });

  it('abandon kills the process group and forgets the job', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'sleep 1000 & sleep 1000; wait'));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    await waitFor('sh and both sleeps', () => livePidsInGroup(pid!).length === 3);
    gw.send({ type: 'abandon', v: PROTOCOL_VERSION, jobId });
    await waitFor('no process left in the group', () => livePidsInGroup(pid!).length === 0);

    const probe = newJobId(); // a round trip after the kill: any exit of the abandoned job would be here first
    gw.send(runMessage(probe, 'true'));
    await waitFor('probe exit', () => gw.exitOf(probe));
    expect(gw.exitOf(jobId)).toBeUndefined();
  });

  it('welcome.abandon kills and forgets the jobs the server already ended', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'sleep 1000'));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    gw.welcomeFor = (hello) => ({ resume: [], abandon: hello.jobs.map((j) => j.jobId) });
    gw.current!.ws.close(1012, 'restart');
    const hello = await waitFor('second hello', () => gw.connections[1]?.hello);
    expect(hello.jobs.map((j) => j.jobId)).toEqual([jobId]);
    await waitFor('no process left in the group', () => livePidsInGroup(pid!).length === 0);

    gw.welcomeFor = undefined;
    gw.current!.ws.close(1012, 'restart');
    expect((await waitFor('third hello', () => gw.connections[2]?.hello)).jobs).toEqual([]);
  });

  it('a malformed frame from the server: the agent closes 1008 and reconnects', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    gw.sendRaw(JSON.stringify({ type: 'run', v: 1, jobId: 'not-a-job' }));
    const closed = await waitFor('the agent to close', () => gw.connections[0]!.closed);
    expect(closed.code).toBe(1008);
    await waitFor('a second hello', () => gw.connections[1]?.hello);
    gw.sendRaw('not json');
    expect((await waitFor('the agent to close again', () => gw.connections[1]!.closed)).code).toBe(1008);
    await waitFor('a third hello', () => gw.connections[2]?.hello);
  });

  it('§1 a frame before welcome is a violation: the agent closes 1008, runs nothing, reconnects', async () => {
    const { gw } = await startAgentUnderTest();
    const early = newJobId();
    gw.beforeWelcome = (conn) => {
      gw.beforeWelcome = undefined;
      gw.send(runMessage(early, 'echo too-early'), conn);
    };
    await waitFor('the agent to close', () => gw.connections[0]?.closed);
    expect(gw.connections[0]!.closed!.code).toBe(1008);
    await waitFor('a second hello', () => gw.connections[1]?.hello);
    expect(gw.connections[1]!.hello!.jobs).toEqual([]);
    expect(gw.received('started', early)).toEqual([]);
  });
});
