import type { Redis } from 'ioredis';
import { JobChannelMessage } from '@vmo/shared/protocol';
import type { Keys } from '@vmo/shared/redis';

const OUTPUT_PREFIX = '{"t":"output"';

type Listener = (msg: JobChannelMessage) => void;

/**
 * One Redis subscriber connection for the whole worker, fanning `job:{id}` messages out to the
 * executors waiting on them. Pub/sub is only a wake-up: every waiter also polls Postgres.
 */
export class JobEvents {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly subscriber: Redis,
    private readonly keys: Keys,
  ) {
    subscriber.on('message', (channel: string, raw: string) => {
      const jobId = channel.slice(channel.lastIndexOf(':') + 1);
      const set = this.listeners.get(jobId);
      if (!set) return;
      // Output batches share the channel with status events; the worker only needs the events,
      // and parsing megabytes of base64 to skip them dominated its CPU in the output benchmark.
      if (raw.startsWith(OUTPUT_PREFIX)) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        return;
      }
      const msg = JobChannelMessage.safeParse(parsed);
      if (msg.success) for (const l of set) l(msg.data);
    });
  }

  async listen(jobId: string, listener: Listener): Promise<() => void> {
    let set = this.listeners.get(jobId);
    if (!set) {
      this.listeners.set(jobId, (set = new Set()));
      await this.subscriber.subscribe(this.keys.jobChannel(jobId)).catch(() => {});
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(jobId) === set) {
        this.listeners.delete(jobId);
        this.subscriber.unsubscribe(this.keys.jobChannel(jobId)).catch(() => {});
      }
    };
  }
}
