import type { RedisClient } from '../redis.ts';
import type { ChangeTopic } from './messages/changes.ts';
import { publishChanges, type BusConnection } from './publish.ts';
import { TopicCoalescer } from './topic-coalescer.ts';

/**
 * How often one process publishes `changed` at most (BUS.md §10): every topic marked meanwhile
 * goes out in one message. Dashboards are told within this of a change, and a burst of thousands
 * of job transitions is a handful of messages.
 */
export const CHANGE_PUBLISH_INTERVAL_MS = 250;

/**
 * A process's publisher of `changed` (BUS.md §10): `mark` a topic after the change is committed,
 * and the topics go out coalesced, fire and forget. A message Redis does not take is lost like any
 * other on the bus (§7): dashboards refetch on the next change, or on their reconnect.
 */
export class ChangeNotifier {
  private readonly coalescer: TopicCoalescer<ChangeTopic>;

  constructor(bus: BusConnection, intervalMs = CHANGE_PUBLISH_INTERVAL_MS) {
    // publish() never rejects (false when Redis did not take it): nothing to catch.
    this.coalescer = new TopicCoalescer((topics) => void publishChanges(bus, topics), intervalMs);
  }

  mark(topic: ChangeTopic): void {
    this.coalescer.mark(topic);
  }

  close(): void {
    this.coalescer.close();
  }
}

/** One notifier per command connection and channel: every service function of a process shares it. */
const notifiers = new WeakMap<RedisClient, Map<string, ChangeNotifier>>();

/**
 * Tell dashboards that `topic` changed (BUS.md §10), from anything that holds a control plane
 * (`cp` is a BusConnection): call it after the write is committed, never before (a dashboard that
 * refetches at once must see it). Returns at once; the publish follows, coalesced with every other
 * mark of this process.
 */
export function markChanged(bus: BusConnection, topic: ChangeTopic): void {
  // A caller holding a control plane without Redis (a test wiring only Postgres): nobody to tell.
  if (typeof bus.redis !== 'object' || bus.redis === null) return;
  let byChannel = notifiers.get(bus.redis);
  if (!byChannel) {
    byChannel = new Map();
    notifiers.set(bus.redis, byChannel);
  }
  const channel = bus.keys.changesChannel;
  let notifier = byChannel.get(channel);
  if (!notifier) {
    notifier = new ChangeNotifier(bus);
    byChannel.set(channel, notifier);
  }
  notifier.mark(topic);
}
