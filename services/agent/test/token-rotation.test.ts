/**
 * PROTOCOL.md §8, the agent's side of a token rotation: the token file is read at each connection;
 * after a 4410 the agent never presents the rotated token again, keeps its job running, and
 * connects with the new token as soon as it is installed in the file. A 401 is final unless the
 * file meanwhile holds another token. Without a file (a token given as such) 4410 stops it.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentCloseCode, PROTOCOL_VERSION } from '@vmo/shared/protocol';
import { tokenFile, type TokenSource } from '../src/token-source.ts';
import { startAgentUnderTest } from './agent-fixture.ts';
import { AGENT_TOKEN } from './fake-gateway.ts';
import { newJobId, runMessage } from './messages.ts';
import { waitFor } from './wait-for.ts';

const dir = mkdtempSync(join(tmpdir(), 'vmo-agent-rotation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NEW_TOKEN = 'vmo_agt_the-new-one_456';

/** Installed as an operator would: written beside, renamed over. */
function install(path: string, token: string): void {
  writeFileSync(`${path}.new`, `${token}\n`, { mode: 0o600 });
  renameSync(`${path}.new`, path);
}

/** The file, counting how often the agent looks at it. */
function countedFile(path: string): TokenSource & { reads: number } {
  const file = tokenFile(path);
  const counted = { file: path, reads: 0, read: () => (counted.reads++, file.read()) };
  return counted;
}

describe('§8 token rotation (agent side)', () => {
  it('after 4410 it waits without presenting the old token, its job running, and connects with the new one once installed', async () => {
    const path = join(dir, 'rotated.token');
    install(path, AGENT_TOKEN);
    const source = countedFile(path);
    const { gw, agent, fatal } = await startAgentUnderTest({ agent: { token: source } });
    await waitFor('hello', () => gw.current?.hello, 15_000);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'sleep 30'));
    await waitFor('started', () => gw.frames.find((f) => f.msg.type === 'started'), 15_000);

    gw.acceptedToken = NEW_TOKEN; // the server's side of the rotation
    const upgrades = gw.upgrades;
    const readsAtClose = source.reads;
    gw.current!.ws.close(AgentCloseCode.tokenRotated, 'agent token rotated');
    // Two looks at the file after the close: it has decided, twice, not to connect with what is there.
    await waitFor('the agent looking at its token file', () => source.reads >= readsAtClose + 2, 15_000);
    expect(gw.upgrades).toBe(upgrades);
    expect(agent.state).toBe('backoff');
    expect(fatal).toEqual([]);

    install(path, NEW_TOKEN);
    const back = await waitFor('a hello with the new token', () => (gw.connections.length > 1 && gw.current?.hello ? gw.current : undefined), 15_000);
    expect(back.headers.authorization).toBe(`Bearer ${NEW_TOKEN}`);
    expect(gw.upgrades).toBe(upgrades + 1);
    // §6: the job went on while the agent waited, and it says so in its hello.
    expect(back.hello!.jobs.map((j) => j.jobId)).toEqual([jobId]);
    expect(back.hello!.jobs[0]!.exit).toBeUndefined();
    gw.send({ type: 'cancel', v: PROTOCOL_VERSION, jobId, graceMs: 100 });
  });

  it('an HTTP 401 is final, unless the file meanwhile holds another token', async () => {
    const path = join(dir, 'refused.token');
    install(path, AGENT_TOKEN);
    const { gw, fatal } = await startAgentUnderTest({ agent: { token: tokenFile(path) } });
    await waitFor('hello', () => gw.current?.hello, 15_000);
    // Rotated while the agent was away: its next attempt is refused, but the new token is already there.
    gw.acceptedToken = NEW_TOKEN;
    install(path, NEW_TOKEN);
    gw.current!.ws.close(1012, 'server restarting');
    const back = await waitFor('a hello with the new token', () => (gw.connections.length > 1 && gw.current?.hello ? gw.current : undefined), 15_000);
    expect(back.headers.authorization).toBe(`Bearer ${NEW_TOKEN}`);
    expect(fatal).toEqual([]);

    // Refused with what the file holds: final.
    gw.acceptedToken = 'vmo_agt_someone-else_789';
    back.ws.close(1012, 'server restarting');
    await waitFor('fatal', () => fatal[0], 15_000);
    expect(fatal[0]).toMatch(/^the server refused the agent token \(HTTP 401 from /);
  });

  it('after 4410 an agent given its token as such (no file) stops: only a restart can bring the new token', async () => {
    const { gw, agent, fatal } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello, 15_000);
    gw.current!.ws.close(AgentCloseCode.tokenRotated, 'agent token rotated');
    await waitFor('fatal', () => fatal[0], 15_000);
    expect(fatal[0]).toBe("this agent's token was rotated (close 4410); restart the agent with the new token");
    expect(agent.state).toBe('stopped');
  });
});
