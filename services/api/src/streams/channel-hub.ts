import type { Redis } from 'ioredis';

type Listener = (raw: string) => void;

/**
 * One Redis subscriber connection per API process, shared by every WebSocket subscriber and
 * every agent session on it: channels are subscribed on first interest and dropped on last.
 * ioredis re-subscribes after a reconnect; what was published meanwhile is lost, which is why
 * every consumer here can recover from Postgres.
 */
export class ChannelHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly subscribed = new Map<string, Promise<void>>();

  constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string, raw: string) => {
      const set = this.listeners.get(channel);
      if (set) for (const l of set) l(raw);
    });
  }

  /** Resolves once the subscription is active (so nothing published after it is missed). */
  async listen(channel: string, listener: Listener): Promise<() => void> {
    let set = this.listeners.get(channel);
    if (!set) {
      this.listeners.set(channel, (set = new Set()));
      this.subscribed.set(channel, this.subscriber.subscribe(channel).then(() => undefined));
    }
    set.add(listener);
    const unlisten = () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(channel) === set) {
        this.listeners.delete(channel);
        this.subscribed.delete(channel);
        this.subscriber.unsubscribe(channel).catch(() => {});
      }
    };
    // A second listener must wait for the first one's SUBSCRIBE too, or it could miss messages.
    const pending = this.subscribed.get(channel);
    try {
      await pending;
    } catch (err) {
      // Every listener waiting on this SUBSCRIBE fails with it; forget the channel so the next
      // listen() subscribes afresh instead of failing forever.
      if (this.subscribed.get(channel) === pending) {
        this.subscribed.delete(channel);
        this.listeners.delete(channel);
      }
      throw err;
    }
    return unlisten;
  }
}
