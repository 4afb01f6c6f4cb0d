import type { WebSocket } from 'ws';
import type { EventsMessage } from '@vmo/shared/api';
import { isChangeTopic, TopicCoalescer, type BusSubscriber, type ChangeTopic, type ChangesMessage, type Unlisten } from '@vmo/shared/bus';
import type { Logger } from '@vmo/shared/logger';
import { SubscriberCloseCode } from '@vmo/shared/protocol';
import { countCutTooSlow, watchSubscriberSocket } from './socket-lifecycle.ts';

/** One frame per socket per this at most (about four a second), whatever the bus carries. */
export const EVENTS_FRAME_INTERVAL_MS = 250;
/**
 * A WebSocket ping this often, and a socket that did not answer the previous one is dropped. The
 * feed may be silent for hours: without traffic a proxy cuts it (nginx after 60 s), and a peer
 * that vanished would hold its socket for ever.
 */
export const EVENTS_PING_MS = 30_000;

export interface EventsFeedDeps {
  bus: BusSubscriber;
  log: Logger;
  /** Close the subscriber (4008) when this much is waiting in its socket: it stopped reading. */
  maxBufferedBytes: number;
}

interface Subscriber {
  /** The topics its credential may read (events-upgrade.ts). */
  topics: ReadonlySet<ChangeTopic>;
  frames: TopicCoalescer<ChangeTopic>;
  answeredPing: boolean;
  /** Its `hello` is sent: nothing reaches it before (a `changed` ahead of `hello` would be read as stale). */
  live: boolean;
}

/**
 * The events feed of one API node (GET /v1/events): every open socket hears of the `changed`
 * messages on the bus (BUS.md §10), filtered to what it may read and coalesced again per socket.
 * The node subscribes to the channel while it has a socket open, and sends a socket its `hello`
 * only once the subscription is active: a client that reads everything again on `hello` then
 * misses no change that came after.
 */
export class EventsFeed {
  private readonly subscribers = new Map<WebSocket, Subscriber>();
  /** The bus subscription, while any socket is open. */
  private listening: Promise<Unlisten> | undefined;
  private readonly pinger: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly deps: EventsFeedDeps) {
    this.pinger = setInterval(() => this.ping(), EVENTS_PING_MS);
    this.pinger.unref();
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Serve a socket just accepted, with the topics its credential may read. */
  serve(ws: WebSocket, topics: readonly ChangeTopic[]): void {
    if (this.stopped) return void ws.close(SubscriberCloseCode.restart, 'server restarting');
    let closed = false;
    const close = (code: number, reason: string) => {
      if (closed) return;
      closed = true;
      this.forget(ws);
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
    };
    const send = (msg: EventsMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const frames = new TopicCoalescer<ChangeTopic>((changed) => {
      if (ws.bufferedAmount > this.deps.maxBufferedBytes) {
        countCutTooSlow();
        return close(SubscriberCloseCode.tooSlow, 'subscriber too slow; reconnect');
      }
      send({ type: 'changed', topics: changed });
    }, EVENTS_FRAME_INTERVAL_MS);
    const subscriber: Subscriber = { topics: new Set(topics), frames, answeredPing: true, live: false };
    this.subscribers.set(ws, subscriber);
    ws.on('pong', () => (subscriber.answeredPing = true));
    watchSubscriberSocket(ws, close);
    this.listen().then(
      () => {
        if (closed) return;
        subscriber.live = true;
        send({ type: 'hello' });
      },
      (err: Error) => {
        this.deps.log.warn({ err: err.message }, 'events feed: could not subscribe to changes; the subscriber is told to reconnect');
        close(SubscriberCloseCode.restart, 'events unavailable; reconnect');
      },
    );
  }

  /** Shutdown: the server closes the sockets (1012); this lets go of the bus and the timers. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.pinger);
    for (const ws of [...this.subscribers.keys()]) this.forget(ws);
  }

  private listen(): Promise<Unlisten> {
    if (!this.listening) {
      const pending = this.deps.bus.changes((msg) => this.deliver(msg));
      this.listening = pending;
      // A failed SUBSCRIBE is not kept: the next socket tries again.
      pending.catch(() => {
        if (this.listening === pending) this.listening = undefined;
      });
    }
    return this.listening;
  }

  private deliver(msg: ChangesMessage): void {
    // Topics a newer publisher added are skipped (BUS.md §10), the known ones kept.
    const topics = msg.topics.filter(isChangeTopic);
    for (const subscriber of this.subscribers.values()) {
      if (!subscriber.live) continue;
      for (const topic of topics) if (subscriber.topics.has(topic)) subscriber.frames.mark(topic);
    }
  }

  private forget(ws: WebSocket): void {
    const subscriber = this.subscribers.get(ws);
    if (!subscriber) return;
    subscriber.frames.close();
    this.subscribers.delete(ws);
    if (this.subscribers.size === 0 && this.listening) {
      const listening = this.listening;
      this.listening = undefined;
      listening.then((unlisten) => unlisten(), () => {});
    }
  }

  private ping(): void {
    for (const [ws, subscriber] of this.subscribers) {
      if (!subscriber.answeredPing) {
        this.deps.log.debug('events feed: a subscriber did not answer its ping; dropped');
        ws.terminate();
        this.forget(ws);
        continue;
      }
      subscriber.answeredPing = false;
      if (ws.readyState === ws.OPEN) ws.ping();
    }
  }
}
