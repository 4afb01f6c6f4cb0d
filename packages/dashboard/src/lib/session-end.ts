import { VmoApiError, VmoStreamClosedError } from '@vmo/client';

/**
 * The API's ways of saying "this credential no longer works": a 401 answer, or a stream closed
 * 4401 (a WebSocket has no status to answer with once it is open). Whoever meets one hands it to
 * the session's `expireSession()`, which signs out. Apart from the session module so the feeds that
 * meet them stay plain modules (unit-tested without a browser).
 */
export function endsSession(err: unknown): boolean {
  return (err instanceof VmoApiError && err.status === 401) || (err instanceof VmoStreamClosedError && err.closeCode === 4401);
}
