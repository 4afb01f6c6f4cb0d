/**
 * "Something you are looking at changed": the pages' one way to stay live without a reload.
 *
 * A page calls `onChange('jobs', refetch)` in an $effect and refetches what it shows (through the
 * REST API, so access rules apply as for any read) when told. Today this polls while the tab is
 * visible; the events WebSocket (GET /v1/events) replaces the timer without changing this interface.
 */
export type Topic = 'jobs' | 'runs' | 'agents' | 'hosts';

const POLL_MS = 2_000;

/** Call `fn` when `topic` may have changed; returns the unsubscribe (return it from the $effect). */
export function onChange(topic: Topic, fn: () => void): () => void {
  void topic;
  const timer = window.setInterval(() => {
    if (document.visibilityState === 'visible') fn();
  }, POLL_MS);
  return () => window.clearInterval(timer);
}
