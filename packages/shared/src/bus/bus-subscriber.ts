import type { Logger } from 'pino';
import { REDIS_PING_MS } from '../domain/timings.ts';
import { createRedis, Redis, type Keys, type RedisClient, type RedisTarget } from '../redis.ts';
import { decode, FAMILIES, type Family, type MessageOf } from './families.ts';

/** `size`: the message's length as received (what a consumer that bounds its backlog counts). */
export type Handler<M> = (msg: M, size: number) => void;
export type Unlisten = () => void;

interface Channel {
  family: Family;
  handlers: Set<Handler<never>>;
  /** The SUBSCRIBE of this channel; every listener waits for it. */
  subscribed: Promise<void>;
}

/**
 * The one subscriber connection of a process (BUS.md §8). Channels are subscribed on first
 * interest and dropped on last; each message is decoded once, by its channel's family, and the
 * same decoded object is handed to every local handler of that channel.
 *
 * ioredis re-subscribes after a reconnect; what was published meanwhile is lost, which is why
 * every consumer recovers from Postgres (§7).
 */
export class BusSubscriber {
  private readonly channels = new Map<string, Channel>();
  /** Messages that did not decode (another version, foreign): dropped, counted. */
  dropped = 0;
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly connection: RedisClient,
    private readonly keys: Keys,
    private readonly log?: Logger,
  ) {
    // Buffers, not strings: job output is binary (BUS.md §4), and ioredis makes a string of a
    // message only for 'message' listeners.
    connection.on('messageBuffer', (name: Buffer, raw: Buffer) => this.deliver(name.toString(), raw));
    // A subscriber waits on nothing, so a black-holed connection would stay silent forever and
    // every stop and job event after it would be lost: a PING now and then gives the connection's
    // socket deadline (redis.ts) something to time (domain/timings.ts). Cluster: ioredis keeps the
    // subscriber connection to itself; not pinged.
    this.pinger = setInterval(() => {
      if (connection instanceof Redis && connection.status === 'ready') connection.ping().catch(() => {});
    }, REDIS_PING_MS);
    this.pinger.unref();
  }

  /** A subscriber on a connection of its own (its errors are the command connection's to report). */
  static open(target: RedisTarget | string, keys: Keys, log?: Logger): BusSubscriber {
    const connection = createRedis(target as RedisTarget);
    connection.on('error', () => {});
    return new BusSubscriber(connection, keys, log);
  }

  /** §3. Resolves once the subscription is active: nothing published after that is missed. */
  jobEvents(jobId: string, handler: Handler<MessageOf<'jobEvents'>>): Promise<Unlisten> {
    return this.listen('jobEvents', jobId, handler);
  }

  /** §4. */
  jobOutput(jobId: string, handler: Handler<MessageOf<'jobOutput'>>): Promise<Unlisten> {
    return this.listen('jobOutput', jobId, handler);
  }

  /** §5. */
  agentCommands(agentId: string, handler: Handler<MessageOf<'agentCommands'>>): Promise<Unlisten> {
    return this.listen('agentCommands', agentId, handler);
  }

  /** §6. */
  control(handler: Handler<MessageOf<'control'>>): Promise<Unlisten> {
    return this.listen('control', '', handler);
  }

  /** §10. */
  changes(handler: Handler<MessageOf<'changes'>>): Promise<Unlisten> {
    return this.listen('changes', '', handler);
  }

  /** §11. */
  shell(sessionId: string, handler: Handler<MessageOf<'shell'>>): Promise<Unlisten> {
    return this.listen('shell', sessionId, handler);
  }

  /** §12. */
  operationLog(operationId: string, handler: Handler<MessageOf<'operationLog'>>): Promise<Unlisten> {
    return this.listen('operationLog', operationId, handler);
  }

  close(): void {
    clearInterval(this.pinger);
    this.connection.disconnect();
  }

  private deliver(name: string, raw: Buffer): void {
    const channel = this.channels.get(name);
    if (!channel) return;
    const msg = decode(channel.family, raw);
    if (msg === undefined) {
      this.dropped++;
      this.log?.debug({ channel: name, bytes: raw.length }, 'bus message dropped: it does not decode');
      return;
    }
    for (const handler of channel.handlers) {
      // One handler's bug must not keep the message from the others (or reach ioredis' emitter).
      try {
        (handler as Handler<typeof msg>)(msg, raw.length);
      } catch (err) {
        this.log?.error({ err, channel: name }, 'a bus handler failed');
      }
    }
  }

  private async listen<F extends Family>(family: F, id: string, handler: Handler<MessageOf<F>>): Promise<Unlisten> {
    const name = FAMILIES[family].channel(this.keys, id);
    let channel = this.channels.get(name);
    if (!channel) {
      channel = { family, handlers: new Set(), subscribed: this.connection.subscribe(name).then(() => undefined) };
      this.channels.set(name, channel);
    }
    const entry = channel;
    entry.handlers.add(handler as Handler<never>);
    const unlisten = () => {
      entry.handlers.delete(handler as Handler<never>);
      if (entry.handlers.size === 0 && this.channels.get(name) === entry) {
        this.channels.delete(name);
        this.connection.unsubscribe(name).catch(() => {});
      }
    };
    // A second listener waits for the first one's SUBSCRIBE too, or it could miss messages.
    try {
      await entry.subscribed;
    } catch (err) {
      // Every listener waiting on this SUBSCRIBE fails with it; forget the channel so the next
      // listen subscribes afresh instead of failing forever.
      if (this.channels.get(name) === entry) this.channels.delete(name);
      throw err;
    }
    return unlisten;
  }
}
