import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keys } from '../redis.ts';
import { ChangeNotifier, CHANGE_PUBLISH_INTERVAL_MS, markChanged } from './change-notifier.ts';
import { decode } from './families.ts';
import { TopicCoalescer } from './topic-coalescer.ts';

/** What went to Redis: the channel and the message as the receiver decodes it. A publisher's only call is PUBLISH. */
function recordingBus() {
  const published: { channel: string; topics: string[] }[] = [];
  const redis = {
    publish: async (channel: string, raw: string) => {
      const msg = decode('changes', raw);
      if (!msg) throw new Error(`not a §10 message: ${raw}`);
      published.push({ channel, topics: msg.topics });
      return 1;
    },
  } as unknown as Redis;
  return { bus: { redis, keys: keys('t') }, published };
}

describe('§10 changes: the coalescing publisher', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('publishes the first change on the next tick, then at most once per interval with every topic marked meanwhile', async () => {
    const { bus, published } = recordingBus();
    const notifier = new ChangeNotifier(bus);
    notifier.mark('jobs');
    expect(published).toEqual([]); // never inside the caller's await
    await vi.advanceTimersByTimeAsync(0);
    expect(published).toEqual([{ channel: 't:changes', topics: ['jobs'] }]);

    // A burst of 500 job transitions and a run roll-up within one interval: one more message.
    for (let i = 0; i < 500; i++) notifier.mark('jobs');
    notifier.mark('runs');
    await vi.advanceTimersByTimeAsync(CHANGE_PUBLISH_INTERVAL_MS - 1);
    expect(published).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(published).toEqual([
      { channel: 't:changes', topics: ['jobs'] },
      { channel: 't:changes', topics: ['jobs', 'runs'] },
    ]);

    // Quiet for longer than the interval: the next change goes out at once again.
    await vi.advanceTimersByTimeAsync(5 * CHANGE_PUBLISH_INTERVAL_MS);
    notifier.mark('hosts');
    await vi.advanceTimersByTimeAsync(0);
    expect(published.at(-1)).toEqual({ channel: 't:changes', topics: ['hosts'] });
    expect(published).toHaveLength(3);
    notifier.close();
  });

  it('marks through markChanged share one notifier per connection: two call sites, one message', async () => {
    const { bus, published } = recordingBus();
    markChanged(bus, 'agents');
    markChanged({ ...bus }, 'hosts'); // another control-plane object on the same connection
    await vi.advanceTimersByTimeAsync(0);
    expect(published).toEqual([{ channel: 't:changes', topics: ['agents', 'hosts'] }]);
  });

  it('a closed coalescer flushes nothing, and a steady stream of marks is one flush per interval', async () => {
    const flushes: string[][] = [];
    const coalescer = new TopicCoalescer<string>((t) => flushes.push(t), 100);
    for (let ms = 0; ms < 1_000; ms += 10) {
      coalescer.mark('jobs');
      await vi.advanceTimersByTimeAsync(10);
    }
    // The first at once, then one per 100 ms: 10 or 11, never 100.
    expect(flushes.length).toBeGreaterThanOrEqual(10);
    expect(flushes.length).toBeLessThanOrEqual(11);
    coalescer.mark('runs');
    coalescer.close();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(flushes.flat()).not.toContain('runs');
  });
});
