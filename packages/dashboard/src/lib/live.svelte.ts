import type { ChangeTopic, VmoClient } from '@vmo/client';
import { endsSession } from './session-end.ts';
import { expireSession, session } from './session.svelte.ts';

/**
 * "Something you are looking at changed": the pages' one way to stay live without a reload.
 *
 * A page calls `onChange('jobs', refetch)` in an $effect and refetches what it shows (through the
 * REST API, so access rules apply as for any read) when told. Behind it is one events WebSocket
 * (GET /v1/events, `session.client.events()`) shared by every subscriber of the tab: opened when
 * the first one comes, closed when the last one leaves. The feed names topics only, never ids.
 *
 * - When the feed (re)opens, every subscriber is called once: what changed while it was down (or
 *   between a page's first read and the feed being live) was not sent.
 * - While it is down, a slow poll (every 10 s) stands in for it.
 * - A hidden tab refetches nothing: the topics it was told of are kept and called when it shows again.
 */
export type Topic = ChangeTopic;

/** The stand-in while the feed is down (or not yet open). */
const FALLBACK_POLL_MS = 10_000;
/**
 * The feed outlives its last subscriber this long: a page change (the old page leaves, the new one
 * comes) and an $effect that re-subscribes when its inputs change keep the one socket.
 */
const LINGER_MS = 2_000;

interface Feed {
  /** The client it was opened with: a new session (another token) opens a new feed. */
  client: VmoClient;
  abort: AbortController;
  poll: number | undefined;
}

const subscribers = new Map<Topic, Set<() => void>>();
/** Topics told while the tab was hidden: called when it shows again. */
const pending = new Set<Topic>();
let feed: Feed | undefined;
let linger: number | undefined;

/** Call `fn` when `topic` may have changed; returns the unsubscribe (return it from the $effect). */
export function onChange(topic: Topic, fn: () => void): () => void {
  let set = subscribers.get(topic);
  if (!set) subscribers.set(topic, (set = new Set()));
  // A wrapper of its own: the same function subscribed twice is two subscriptions.
  const subscription = () => fn();
  set.add(subscription);
  ensureFeed();
  return () => {
    subscribers.get(topic)?.delete(subscription);
    if (subscriberCount() === 0) {
      window.clearTimeout(linger);
      linger = window.setTimeout(closeFeed, LINGER_MS);
    }
  };
}

function subscriberCount(): number {
  let n = 0;
  for (const set of subscribers.values()) n += set.size;
  return n;
}

function ensureFeed(): void {
  window.clearTimeout(linger);
  linger = undefined;
  if (feed?.client === session.client) return;
  closeFeed();
  const own: Feed = { client: session.client, abort: new AbortController(), poll: undefined };
  feed = own;
  document.addEventListener('visibilitychange', onVisibility);
  startPolling(own); // until the first hello
  own.client
    .events({
      signal: own.abort.signal,
      onOpen: () => {
        stopPolling(own);
        notify([...subscribers.keys()]);
      },
      onChange: (topics) => notify(topics),
      onDown: () => startPolling(own),
    })
    // Final. 4401: the credential ended, so the tab signs out (as a REST call would, at the
    // poll's next tick); any other refusal: the poll goes on.
    .catch((err: unknown) => {
      if (endsSession(err) && feed === own) expireSession();
      else startPolling(own);
    });
}

function closeFeed(): void {
  if (!feed) return;
  feed.abort.abort();
  stopPolling(feed);
  feed = undefined;
  pending.clear();
  document.removeEventListener('visibilitychange', onVisibility);
}

function startPolling(own: Feed): void {
  if (feed !== own || own.poll !== undefined) return;
  own.poll = window.setInterval(() => notify([...subscribers.keys()]), FALLBACK_POLL_MS);
}

function stopPolling(own: Feed): void {
  window.clearInterval(own.poll);
  own.poll = undefined;
}

function notify(topics: Iterable<Topic>): void {
  if (document.visibilityState !== 'visible') {
    for (const topic of topics) pending.add(topic);
    return;
  }
  // Copied first: a subscriber may unsubscribe (or subscribe) while being told.
  const calls = [...topics].flatMap((topic) => [...(subscribers.get(topic) ?? [])]);
  for (const call of calls) {
    try {
      call();
    } catch (err) {
      reportError(err); // one page's bug must not keep the others from refreshing
    }
  }
}

function onVisibility(): void {
  if (document.visibilityState !== 'visible' || pending.size === 0) return;
  const topics = [...pending];
  pending.clear();
  notify(topics);
}
