import { CHANGE_TOPICS, streamEvents, type ChangeTopic, type EventsMessage } from '@vmo/shared/api';
import { VmoApiError, VmoStreamClosedError } from './errors.ts';
import { routeUrl } from './http.ts';
import { openStream, type StreamTarget } from './stream.ts';

export type { ChangeTopic };

/** Why the feed is down, and when it tries again. */
export interface EventsDown {
  delayMs: number;
  /** The server closed it (1012 restarting, 4008 too slow, 1006 the connection broke, …). */
  closeCode?: number;
  /** The upgrade was refused with this status (503: a store is down; 429). Node only: a browser does not show it. */
  status?: number;
  /** It could not be opened (the server is unreachable, or in a browser any refusal). */
  error?: Error;
}

export interface EventsOptions {
  /** The topics of each `changed` frame (those this client knows; never empty). */
  onChange(topics: ChangeTopic[]): void;
  /**
   * Each connection's `hello`: the feed is live. `reconnected`: not the first connection, so
   * changes made while it was down were not sent: read again everything shown.
   */
  onOpen?(info: { reconnected: boolean }): void;
  /** The feed went down; it is opened again after `delayMs`. */
  onDown?(down: EventsDown): void;
  /** Abort to stop the feed: events() then resolves. */
  signal?: AbortSignal | undefined;
  /** Reconnect delays: `initialMs` doubling up to `maxMs`, jittered (defaults 500 ms and 15 s); back to `initialMs` after a `hello`. */
  backoff?: { initialMs?: number; maxMs?: number };
}

/**
 * Closes after which reconnecting cannot help: 4401 (the credential is no longer valid), 1008 and
 * 1009 (this client broke the protocol). Every other close (1012 restarting, 4008, a broken
 * connection) is reconnected.
 */
const FINAL_CLOSE_CODES: readonly number[] = [4401, 1008, 1009];

/**
 * Follow GET /v1/events, "something changed", for as long as `signal` lets it: `onChange` with the
 * topics of every `changed` frame, reconnecting with a jittered backoff whenever the feed goes
 * down (`onDown`) and telling `onOpen` when it is back (the caller then reads again what it
 * shows). The frames carry no ids and no data: read through the REST API.
 *
 * Resolves when `signal` aborts. Rejects with VmoStreamClosedError on 4401 (the credential was
 * revoked or expired; reconnecting would be refused), 1008 or 1009; with VmoApiError for a refused
 * upgrade that retrying cannot fix (401, 403, 400: Node only, as a browser does not show the
 * status and such a refusal is retried there like an unreachable server); and with what a
 * callback threw.
 */
export async function events(target: StreamTarget, opts: EventsOptions): Promise<void> {
  const url = routeUrl(target.baseUrl.replace(/^http/, 'ws'), streamEvents, {});
  const initialMs = opts.backoff?.initialMs ?? 500;
  const maxMs = opts.backoff?.maxMs ?? 15_000;
  const { signal } = opts;
  let connections = 0;
  let failures = 0; // since the last hello: the backoff's exponent
  for (;;) {
    if (signal?.aborted) return;
    let callbackError: Error | undefined;
    let down: Omit<EventsDown, 'delayMs'>;
    try {
      const close = await openStream<EventsMessage>(target, url, {
        signal,
        onMessage: (msg) => {
          try {
            if (msg.type === 'hello') {
              failures = 0;
              opts.onOpen?.({ reconnected: connections++ > 0 });
            } else if (msg.type === 'changed') {
              // A topic a newer server added is skipped, as the contract says.
              const topics = msg.topics.filter((t) => (CHANGE_TOPICS as readonly string[]).includes(t));
              if (topics.length > 0) opts.onChange(topics);
            }
          } catch (err) {
            callbackError = err as Error;
            throw err;
          }
        },
      });
      if (FINAL_CLOSE_CODES.includes(close.code)) {
        const closed = new VmoStreamClosedError(close.code, close.reason);
        closed.message = `the events feed closed with ${close.code}${close.reason ? ` (${close.reason})` : ''}`;
        throw closed;
      }
      down = { closeCode: close.code };
    } catch (err) {
      if (callbackError) throw callbackError;
      if (signal?.aborted) return;
      if (err instanceof VmoStreamClosedError) throw err;
      if (err instanceof VmoApiError && !err.retryable) throw err;
      down = err instanceof VmoApiError ? { status: err.status } : { error: err as Error };
    }
    const delayMs = Math.round(Math.min(maxMs, initialMs * 2 ** failures++) * (0.5 + Math.random() / 2));
    opts.onDown?.({ delayMs, ...down });
    if (!(await pause(delayMs, signal))) return;
  }
}

/** False when `signal` aborted the pause. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
