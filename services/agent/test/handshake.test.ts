import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { AgentHello } from '@vmo/shared/protocol';
import { AGENT_VERSION } from '../src/index.ts';
import { startAgentUnderTest } from './agent-fixture.ts';
import { AGENT_TOKEN } from './fake-gateway.ts';
import { waitFor } from './wait-for.ts';

/** A local port nobody listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('§1 handshake', () => {
  it('authenticates with a Bearer header and says hello with its version, host, os, arch, labels and jobs', async () => {
    const { gw, agent } = await startAgentUnderTest({ agent: { labels: { zone: 'eu-1', gpu: 'no' } } });
    const hello = await waitFor('hello', () => gw.current?.hello);
    expect(gw.current!.headers.authorization).toBe(`Bearer ${AGENT_TOKEN}`);
    expect(AgentHello.parse(hello)).toEqual({
      type: 'hello',
      v: 1,
      agentVersion: AGENT_VERSION,
      hostname: hostname(),
      os: process.platform,
      arch: process.arch,
      labels: { zone: 'eu-1', gpu: 'no' },
      features: ['secret_env', 'shell'], // shell: node-pty is installed with the agent
      jobs: [],
    });
    await waitFor('ready', () => agent.state === 'ready');
  });

  it('stops for good on HTTP 401 at the upgrade and reports it as fatal', async () => {
    const { gw, agent, fatal } = await startAgentUnderTest({ agent: { token: 'vmo_agt_not-known' } });
    await waitFor('fatal', () => fatal.length > 0);
    expect(fatal[0]).toMatch(/HTTP 401/);
    expect(agent.state).toBe('stopped');
    expect(gw.upgrades).toBe(1);
    expect(gw.connections).toHaveLength(0);
  });

  it('moves on to the next server URL when one is unreachable', async () => {
    const port = await closedPort();
    const { gw, agent } = await startAgentUnderTest({ servers: (gw) => [`http://127.0.0.1:${port}`, gw.url] });
    await waitFor('hello on the second server', () => gw.current?.hello);
    await waitFor('ready', () => agent.state === 'ready');
  });
});
