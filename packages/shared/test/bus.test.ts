/**
 * The bus (BUS.md) on the real Redis: one subscriber connection per process, each message decoded
 * once and handed to every handler of its channel, output apart from events, undecodable messages
 * dropped, subscriptions that hold across a reconnect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPrefix, TcpProxy, TEST_REDIS_URL, waitFor } from '@vmo/testkit';
import { BusSubscriber, encodeJobOutput, publishAgentCommand, publishControl, publishJobEvent, publishJobOutput, type JobEvent, type JobOutput } from '../src/bus/index.ts';
import { newId } from '../src/domain/ids.ts';
import { createRedis, keys, type Keys, type Redis } from '../src/redis.ts';

let prefix: ReturnType<typeof createTestPrefix>;
let k: Keys;
let redis: Redis;
const closers: (() => void)[] = [];

beforeAll(() => {
  prefix = createTestPrefix('bus');
  k = keys(prefix.prefix);
  redis = createRedis(TEST_REDIS_URL);
});

afterAll(async () => {
  for (const close of closers) close();
  redis?.disconnect();
  await prefix?.cleanup();
});

function subscriber(url = TEST_REDIS_URL): BusSubscriber {
  const bus = BusSubscriber.open(url, k);
  closers.push(() => bus.close());
  return bus;
}

const bus = () => ({ redis, keys: k });

/**
 * Publish a marker after `work` on the same connection and wait for it: Redis keeps one
 * connection's order, so everything `work` published has been delivered by then.
 */
async function settle(sub: BusSubscriber, jobId: string, work: () => Promise<unknown>): Promise<void> {
  let marked = false;
  const off = await sub.jobEvents(jobId, (e) => void (e.type === 'started' && e.attempt === -1 && (marked = true)));
  await work();
  await publishJobEvent(bus(), jobId, { type: 'started', attempt: -1 });
  await waitFor('the marker', () => marked);
  off();
}

describe('§8 the subscriber', () => {
  it('delivers what is published once listen has resolved (subscribe, then read Postgres)', async () => {
    const sub = subscriber();
    const jobId = newId('job');
    const seen: JobEvent[] = [];
    await sub.jobEvents(jobId, (e) => seen.push(e));
    await publishJobEvent(bus(), jobId, { type: 'status', status: 'running' });
    await waitFor('the event', () => seen.length === 1);
    expect(seen).toEqual([{ v: 1, type: 'status', status: 'running' }]);
  });

  it('decodes each message once: every handler of the channel gets the same object, with its size', async () => {
    const sub = subscriber();
    const jobId = newId('job');
    const got: { msg: JobOutput; size: number }[] = [];
    await Promise.all([1, 2, 3].map(() => sub.jobOutput(jobId, (msg, size) => got.push({ msg, size }))));
    await publishJobOutput(bus(), jobId, [{ seq: 0, stream: 1, data: Buffer.from('hello') }]);
    await waitFor('three deliveries', () => got.length === 3);
    expect(got[0]!.msg).toBe(got[1]!.msg);
    expect(got[1]!.msg).toBe(got[2]!.msg);
    expect(got[0]!.size).toBe(encodeJobOutput(got[0]!.msg.chunks).length);
  });

  it('hands a message to every handler even when one of them throws', async () => {
    const sub = subscriber();
    const jobId = newId('job');
    const seen: JobEvent[] = [];
    await sub.jobEvents(jobId, () => {
      throw new Error('a handler bug');
    });
    await sub.jobEvents(jobId, (e) => seen.push(e));
    await publishJobEvent(bus(), jobId, { type: 'status', status: 'running' });
    await publishJobEvent(bus(), jobId, { type: 'end', status: 'succeeded', exitCode: 0, signal: null });
    await waitFor('both events at the second handler', () => seen.length === 2);
  });

  it('uses one connection for every family and channel', async () => {
    const name = `bus-one-connection-${prefix.prefix}`;
    const connection = createRedis(TEST_REDIS_URL, { connectionName: name });
    const sub = new BusSubscriber(connection, k);
    closers.push(() => sub.close());
    await Promise.all([
      sub.jobEvents(newId('job'), () => {}),
      sub.jobOutput(newId('job'), () => {}),
      sub.agentCommands('agt_1', () => {}),
      sub.control(() => {}),
    ]);
    const clients = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))
      .split('\n')
      .filter((line) => line.includes(`name=${name} `));
    expect(clients).toHaveLength(1);
    expect(clients[0]).toMatch(/ sub=4 /);
  });

  it('unsubscribes a channel when its last handler goes, and only then', async () => {
    const sub = subscriber();
    const jobId = newId('job');
    const channel = k.jobEventChannel(jobId);
    const numsub = async () => Number(((await redis.pubsub('NUMSUB', channel)) as [string, number])[1]);
    const offA = await sub.jobEvents(jobId, () => {});
    const offB = await sub.jobEvents(jobId, () => {});
    offA();
    expect(await numsub()).toBe(1);
    offB();
    await waitFor('the UNSUBSCRIBE', async () => (await numsub()) === 0);
    // Listening again subscribes afresh.
    const seen: JobEvent[] = [];
    await sub.jobEvents(jobId, (e) => seen.push(e));
    await publishJobEvent(bus(), jobId, { type: 'status', status: 'running' });
    await waitFor('the event after re-subscribing', () => seen.length === 1);
  });

  it('listens again after its connection was reset (what was published meanwhile is lost: §7)', async () => {
    const url = new URL(TEST_REDIS_URL);
    const proxy = await TcpProxy.start(Number(url.port || 6379), url.hostname);
    closers.push(() => void proxy.close());
    const sub = subscriber(`redis://127.0.0.1:${proxy.port}`);
    const jobId = newId('job');
    const seen: JobEvent[] = [];
    await sub.jobEvents(jobId, (e) => seen.push(e));
    proxy.dropOpen();
    await waitFor(
      'an event after the reconnect',
      async () => {
        await publishJobEvent(bus(), jobId, { type: 'status', status: 'running' });
        return seen.length > 0;
      },
      20_000,
      200,
    );
  });
});

describe('§1 §3 §4 output and events apart', () => {
  it('a consumer of events never receives output, and the other way round', async () => {
    const sub = subscriber();
    const jobId = newId('job');
    const events: unknown[] = [];
    const output: unknown[] = [];
    await sub.jobEvents(jobId, (e) => events.push(e));
    await sub.jobOutput(jobId, (o) => output.push(o));
    await settle(sub, jobId, async () => {
      await publishJobOutput(bus(), jobId, [{ seq: 0, stream: 1, data: Buffer.from('x') }]);
      await publishJobEvent(bus(), jobId, { type: 'end', status: 'succeeded', exitCode: 0, signal: null });
      await publishJobOutput(bus(), jobId, [{ seq: 1, stream: 2, data: Buffer.from('y') }]);
    });
    expect(events.filter((e) => (e as JobEvent).type !== 'started')).toEqual([{ v: 1, type: 'end', status: 'succeeded', exitCode: 0, signal: null }]);
    expect(output).toEqual([
      { v: 2, type: 'output', chunks: [{ seq: 0, stream: 1, data: Buffer.from('x') }] },
      { v: 2, type: 'output', chunks: [{ seq: 1, stream: 2, data: Buffer.from('y') }] },
    ]);
  });
});

describe('§2 envelope', () => {
  it('drops (and counts) what does not decode; the messages around it are delivered', async () => {
    const sub = subscriber();
    const jobId = newId('job');
    const seen: JobEvent[] = [];
    await sub.jobEvents(jobId, (e) => seen.push(e));
    const channel = k.jobEventChannel(jobId);
    await settle(sub, jobId, async () => {
      await redis.publish(channel, 'not json');
      await redis.publish(channel, JSON.stringify({ v: 2, type: 'status', status: 'running' }));
      await redis.publish(channel, JSON.stringify({ t: 'end', status: 'failed', exitCode: 1, signal: null }));
      await publishJobEvent(bus(), jobId, { type: 'status', status: 'running' });
    });
    expect(seen.filter((e) => e.type === 'status')).toEqual([{ v: 1, type: 'status', status: 'running' }]);
    expect(sub.dropped).toBe(3);
  });

  it('a publish Redis does not take answers false and never throws', async () => {
    const down = createRedis('redis://127.0.0.1:1', { enableOfflineQueue: false, retryStrategy: () => null });
    down.on('error', () => {});
    closers.push(() => down.disconnect());
    const jobId = newId('job');
    await expect(publishJobEvent({ redis: down, keys: k }, jobId, { type: 'status', status: 'running' })).resolves.toBe(false);
    await expect(publishJobEvent(bus(), jobId, { type: 'status', status: 'running' })).resolves.toBe(true);
  });
});

describe('§5 §6 commands and control', () => {
  it('carries agent commands and control messages to their own channels', async () => {
    const sub = subscriber();
    const commands: unknown[] = [];
    const control: unknown[] = [];
    await sub.agentCommands('agt_bus', (c) => commands.push(c));
    await sub.control((c) => control.push(c));
    await publishAgentCommand(bus(), 'agt_bus', { type: 'abandon', jobId: 'job_x' });
    await publishControl(bus(), { type: 'cancel', jobId: 'job_x', graceMs: 5 });
    await publishControl(bus(), { type: 'access_changed' });
    await waitFor('both', () => commands.length === 1 && control.length === 2);
    expect(commands).toEqual([{ v: 1, type: 'abandon', jobId: 'job_x' }]);
    expect(control).toEqual([{ v: 1, type: 'cancel', jobId: 'job_x', graceMs: 5 }, { v: 1, type: 'access_changed' }]);
  });
});
