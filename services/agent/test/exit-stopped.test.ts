/**
 * PROTOCOL.md §4 / issue 8 #13: `exit.stopped` tells the server whether a cancel reached the
 * process before it exited. When the shell had already exited (its output still draining) the
 * cancel still cleans up the group, but the exit reports `stopped: false`, so the job is recorded
 * as the exit happened, not as canceled.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@vmo/shared/protocol';
import { startAgentUnderTest } from './agent-fixture.ts';
import { newJobId, runMessage } from './messages.ts';
import { livePidsInGroup } from './process-group.ts';
import { waitFor } from './wait-for.ts';

describe('§4 cancel: exit.stopped', () => {
  it('is true when the cancel signalled the running command', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'sleep 1000'));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    await waitFor('the command running', () => livePidsInGroup(pid!).length >= 1);
    gw.send({ type: 'cancel', v: PROTOCOL_VERSION, jobId, graceMs: 5_000 });
    expect(await waitFor('exit', () => gw.exitOf(jobId))).toMatchObject({ signal: 'SIGTERM', stopped: true });
  });

  it('is false when the shell had exited before the cancel came (and the cancel still kills what it left behind)', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    // The shell exits at once; the background sleep keeps stdout open, so the job is not over yet.
    gw.send(runMessage(jobId, 'sleep 1000 & exit 0'));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    await waitFor('the shell gone, its sleep still there', () => !existsSync(`/proc/${pid}`) && livePidsInGroup(pid!).length === 1);
    expect(gw.exitOf(jobId)).toBeUndefined();
    gw.send({ type: 'cancel', v: PROTOCOL_VERSION, jobId, graceMs: 5_000 });
    expect(await waitFor('exit', () => gw.exitOf(jobId))).toMatchObject({ exitCode: 0, signal: null, stopped: false });
    await waitFor('nothing left in the group', () => livePidsInGroup(pid!).length === 0);
  });

  it('is false for a command that ends on its own', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'exit 3'));
    expect(await waitFor('exit', () => gw.exitOf(jobId))).toMatchObject({ exitCode: 3, stopped: false });
  });
});
