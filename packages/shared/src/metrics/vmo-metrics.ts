import { Counter, Gauge, Histogram } from 'prom-client';
import { metricsRegistry } from './registry.ts';
import { QUEUE_STATE_LABELS, type QueueStateLabel, type ScrapeSourceName } from './labels.ts';
import { provideScrapeSource, readScrapeSource, type CountsJobs } from './scrape-sources.ts';

/**
 * Every vmo metric, defined once per process (module scope) into the process's one registry.
 * Names follow Prometheus' conventions: `vmo_` prefix, base units (seconds, bytes), `_total` on
 * counters. Labels take only the fixed values of labels.ts.
 */
const registers = [metricsRegistry];

export const jobsSubmitted = new Counter({
  name: 'vmo_jobs_submitted_total',
  help: 'Jobs accepted (stored) by this process, by target kind',
  labelNames: ['target'] as const,
  registers,
});

export const jobsFinished = new Counter({
  name: 'vmo_jobs_finished_total',
  help: 'Jobs that reached a terminal status in a transition this process won, by target kind and status',
  labelNames: ['target', 'status'] as const,
  registers,
});

export const jobDuration = new Histogram({
  name: 'vmo_job_duration_seconds',
  help: 'Run time of finished jobs (started to finished), by target kind and status',
  labelNames: ['target', 'status'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14_400],
  registers,
});

export const jobQueueWait = new Histogram({
  name: 'vmo_job_queue_wait_seconds',
  help: 'Time from a job being created to it starting (queued to running), by target kind',
  labelNames: ['target'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
  registers,
});

export const outputBytesStored = new Counter({
  name: 'vmo_output_bytes_stored_total',
  help: 'Job output bytes this process stored in Postgres (new chunks only, not resends)',
  registers,
});

export const wsSubscribers = new Gauge({
  name: 'vmo_ws_subscribers',
  help: 'WebSocket subscribers (job and run streams) open on this API node',
  registers,
});

export const wsSubscribersCutSlow = new Counter({
  name: 'vmo_ws_subscribers_cut_slow_total',
  help: 'WebSocket subscribers closed with 4008 because they fell too far behind',
  registers,
});

export const postgresErrors = new Counter({
  name: 'vmo_postgres_errors_total',
  help: 'Postgres errors seen by this process, by kind (connection, timeout, query, other)',
  labelNames: ['kind'] as const,
  registers,
});

export const redisErrors = new Counter({
  name: 'vmo_redis_errors_total',
  help: 'Redis errors seen by this process, by kind (connection, timeout, query, other)',
  labelNames: ['kind'] as const,
  registers,
});

export const scrapeSourceFailures = new Counter({
  name: 'vmo_metrics_source_failures_total',
  help: 'Scrape-time reads that failed or missed their deadline (their series are left out of that scrape)',
  labelNames: ['source'] as const,
  registers,
});

/** Read a scrape source for a gauge; on failure the gauge's series are dropped for this scrape, never stale. */
async function fromSource<T>(name: ScrapeSourceName, gauge: Gauge, apply: (value: T) => void): Promise<void> {
  try {
    const value = await readScrapeSource<T>(name);
    gauge.reset();
    if (value !== undefined) apply(value);
  } catch {
    gauge.reset();
    scrapeSourceFailures.inc({ source: name });
  }
}

export const queueJobs = new Gauge({
  name: 'vmo_queue_jobs',
  help: 'BullMQ entries of the job queue by state, read at scrape time (the whole cluster: the same on every node)',
  labelNames: ['state'] as const,
  registers,
  async collect() {
    await fromSource<Partial<Record<QueueStateLabel, number>>>('queue', queueJobs as unknown as Gauge, (counts) => {
      for (const state of QUEUE_STATE_LABELS) queueJobs.set({ state }, counts[state] ?? 0);
    });
  },
});

export const agentsOnline = new Gauge({
  name: 'vmo_agents_online',
  help: 'Agents holding a session on this API node (sum over the API nodes for the fleet)',
  registers,
  async collect() {
    await fromSource<number>('agents', agentsOnline, (n) => agentsOnline.set(n));
  },
});

export interface SshPoolState {
  connections: number;
  channels: number;
}

export const sshConnections = new Gauge({
  name: 'vmo_ssh_connections',
  help: "SSH connections in this worker's pool (open or being dialled)",
  registers,
  async collect() {
    await fromSource<SshPoolState>('ssh_pool', sshConnections, (s) => sshConnections.set(s.connections));
  },
});

export const sshChannelsInUse = new Gauge({
  name: 'vmo_ssh_channels_in_use',
  help: "SSH sessions (channels) in use on this worker's pooled connections",
  registers,
  async collect() {
    await fromSource<SshPoolState>('ssh_pool', sshChannelsInUse, (s) => sshChannelsInUse.set(s.channels));
  },
});

/** Offer the job queue's depth by state to the scrape (API and worker: the same queue, read once per scrape). */
export function offerQueueDepth(queue: CountsJobs): () => void {
  return provideScrapeSource('queue', () => queue.getJobCounts(...QUEUE_STATE_LABELS));
}
