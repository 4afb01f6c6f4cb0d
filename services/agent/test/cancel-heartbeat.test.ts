import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@vmo/shared/protocol';
import { startAgentUnderTest } from './agent-fixture.ts';
import { newJobId, runMessage } from './messages.ts';
import { livePidsInGroup } from './process-group.ts';
import { waitFor } from './wait-for.ts';

describe('§4 cancel', () => {
  it('SIGTERMs the whole process group, background children included, and reports the exit', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'sleep 1000 & sleep 1000; wait'));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    await waitFor('sh and both sleeps', () => livePidsInGroup(pid!).length === 3);
    gw.send({ type: 'cancel', v: PROTOCOL_VERSION, jobId, graceMs: 5_000 });
    const exit = await waitFor('exit', () => gw.exitOf(jobId));
    expect(exit).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    await waitFor('no process left in the group', () => livePidsInGroup(pid!).length === 0);
  });

  it('SIGKILLs the group after graceMs when SIGTERM is ignored', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    // An ignored signal stays ignored across exec, so sleep ignores SIGTERM too.
    gw.send(runMessage(jobId, `trap '' TERM; sleep 1000`));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    await waitFor('sh and sleep', () => livePidsInGroup(pid!).length === 2);
    gw.send({ type: 'cancel', v: PROTOCOL_VERSION, jobId, graceMs: 200 });
    const exit = await waitFor('exit', () => gw.exitOf(jobId));
    expect(exit.signal).toBe('SIGKILL');
    await waitFor('no process left in the group', () => livePidsInGroup(pid!).length === 0);
  });

  it('ignores a cancel for a job it does not hold', async () => {
    const { gw, agent } = await startAgentUnderTest();
    await waitFor('ready', () => agent.state === 'ready');
    gw.send({ type: 'cancel', v: PROTOCOL_VERSION, jobId: newJobId(), graceMs: 0 });
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'true'));
    await waitFor('exit', () => gw.exitOf(jobId));
    expect(gw.connections).toHaveLength(1);
  });
});

describe('§5 heartbeat', () => {
  it('sends heartbeat {running} every heartbeatMs and pings at the WebSocket level', async () => {
    const { gw } = await startAgentUnderTest();
    gw.heartbeatMs = 100;
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'sleep 1000'));
    await waitFor('two heartbeats with the job running', () => gw.received('heartbeat').filter((h) => h.running === 1).length >= 2);
    await waitFor('pings', () => gw.current!.pings >= 2);
    gw.send({ type: 'cancel', v: PROTOCOL_VERSION, jobId, graceMs: 0 });
    await waitFor('exit', () => gw.exitOf(jobId));
    await waitFor('a heartbeat with nothing running', () => gw.received('heartbeat').at(-1)?.running === 0);
  });

  it('terminates a connection with no pong for two intervals and reconnects', async () => {
    const { gw } = await startAgentUnderTest({ autoPong: false });
    gw.heartbeatMs = 100;
    await waitFor('hello', () => gw.current?.hello);
    await waitFor('the silent connection to be cut', () => gw.connections[0]!.closed);
    expect(gw.connections[0]!.closed!.code).toBe(1006); // terminated, no close handshake
    await waitFor('a second hello', () => gw.connections[1]?.hello);
  });
});
