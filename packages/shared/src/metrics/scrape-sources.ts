import type { ScrapeSourceName } from './labels.ts';

/**
 * Values read at scrape time from whoever holds them (the queue in Redis, the gateway's sessions,
 * the SSH pool), registered by the process that has them. Keyed by name: in `npm start` the API
 * and the worker both offer the queue depth, and the scrape reads it once (the later offer
 * replaces the earlier; the remover of a replaced offer does nothing).
 */
export type ScrapeSource<T> = () => T | Promise<T>;

const sources = new Map<ScrapeSourceName, ScrapeSource<unknown>>();

/** A source can take this long at a scrape; past it the scrape goes on without its series. */
export const SCRAPE_SOURCE_DEADLINE_MS = 2000;
let deadlineMs = SCRAPE_SOURCE_DEADLINE_MS;

/** Change every source's deadline (a test's short one); returns the function that puts the previous one back. */
export function setScrapeSourceDeadline(ms: number): () => void {
  const previous = deadlineMs;
  deadlineMs = ms;
  return () => void (deadlineMs = previous);
}

export function provideScrapeSource<T>(name: ScrapeSourceName, source: ScrapeSource<T>): () => void {
  sources.set(name, source);
  return () => {
    if (sources.get(name) === source) sources.delete(name);
  };
}

/** A source's read that has not settled yet, by source; `abandoned` once a scrape gave up on it at its deadline. */
const pending = new WeakMap<ScrapeSource<unknown>, { work: Promise<unknown>; abandoned: boolean }>();

/**
 * The source's value now; `undefined` when nobody offers it in this process, and a rejection
 * when it failed or missed the deadline. LOUD: bounded, so a slow Redis cannot hang a scrape (and
 * with it every other series of the page). LOUD: never a second read of a source whose read was
 * abandoned at its deadline and is still pending (a stalled Redis keeps the command queued in
 * ioredis): a scrape then fails the source at once instead of queuing one more command per
 * scrape. Two gauges of one scrape reading the same source share its one read.
 */
export async function readScrapeSource<T>(name: ScrapeSourceName, ms = deadlineMs): Promise<T | undefined> {
  const source = sources.get(name) as ScrapeSource<T> | undefined;
  if (!source) return undefined;
  let read = pending.get(source);
  if (read?.abandoned) throw new Error(`scrape source ${name}: its previous read, past its deadline, has not answered yet`);
  if (!read) {
    const entry = { work: Promise.resolve().then(source), abandoned: false };
    const settled = () => void (pending.get(source) === entry && pending.delete(source));
    entry.work.then(settled, settled); // it may settle after the deadline
    pending.set(source, entry);
    read = entry;
  }
  const current = read;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      current.abandoned = true;
      reject(new Error(`scrape source ${name} did not answer within ${ms} ms`));
    }, ms);
  });
  try {
    return (await Promise.race([current.work, deadline])) as T;
  } finally {
    clearTimeout(timer);
  }
}

/** What the queue depth is read from: BullMQ's `Queue.getJobCounts` (one round trip of counts). */
export interface CountsJobs {
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}
