import { afterEach } from 'vitest';
import { startAgent, type AgentHandle, type AgentOptions } from '../src/index.ts';
import type { LogLevel } from '../src/logger.ts';
import { AGENT_TOKEN, FakeGateway } from './fake-gateway.ts';

export interface AgentUnderTest {
  gw: FakeGateway;
  agent: AgentHandle;
  /** Reasons passed to `onFatal`. */
  fatal: string[];
}

const teardowns: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(teardowns.splice(0).map((t) => t()));
});

/**
 * A fake gateway plus an in-process agent connected to it, both torn down after the test: the
 * gateway acks everything so the agent's §7 drain ends at once, then the agent stops.
 */
export async function startAgentUnderTest(opts: { agent?: Partial<AgentOptions>; autoPong?: boolean; servers?: (gw: FakeGateway) => string[] } = {}): Promise<AgentUnderTest> {
  const gw = await FakeGateway.start({ autoPong: opts.autoPong });
  const fatal: string[] = [];
  const agent = startAgent({
    servers: opts.servers?.(gw) ?? [gw.url],
    token: AGENT_TOKEN,
    drainMs: 200,
    logLevel: (process.env.VMO_LOG_LEVEL as LogLevel | undefined) ?? 'silent',
    onFatal: (reason) => fatal.push(reason),
    ...opts.agent,
  });
  teardowns.push(async () => {
    gw.autoAck = gw.autoExitAck = true;
    gw.refuseWith = undefined;
    gw.ackEverything();
    await agent.stop();
    await gw.close();
  });
  return { gw, agent, fatal };
}
