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

export function provideScrapeSource<T>(name: ScrapeSourceName, source: ScrapeSource<T>): () => void {
  sources.set(name, source);
  return () => {
    if (sources.get(name) === source) sources.delete(name);
  };
}

/**
 * The source's value now; `undefined` when nobody offers it in this process, and a rejection
 * when it failed or missed the deadline. LOUD: bounded, so a slow Redis cannot hang a scrape (and
 * with it every other series of the page).
 */
export async function readScrapeSource<T>(name: ScrapeSourceName, deadlineMs = SCRAPE_SOURCE_DEADLINE_MS): Promise<T | undefined> {
  const source = sources.get(name) as ScrapeSource<T> | undefined;
  if (!source) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scrape source ${name} did not answer within ${deadlineMs} ms`)), deadlineMs);
  });
  const work = Promise.resolve().then(source);
  work.catch(() => {}); // it may settle after the deadline
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the queue depth is read from: BullMQ's `Queue.getJobCounts` (one round trip of counts). */
export interface CountsJobs {
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}
