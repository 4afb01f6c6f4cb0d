import type { ControlPlane } from '@vmo/shared/control-plane';
import { onTransitionOnce } from '@vmo/shared/jobs';
import type { Logger } from '@vmo/shared/logger';
import { countJobTransitions, countRedisErrors, offerQueueDepth, provideScrapeSource, type SshPoolState } from '@vmo/shared/metrics';
import type { WorkerConfig } from './env.ts';
import { startMetricsServer, type MetricsServer } from './metrics-server.ts';

type ErrorEmitter = Parameters<typeof countRedisErrors>[0];

export interface WorkerMetrics {
  /** The worker's own /metrics, when VMO_METRICS_PORT is set. */
  server: MetricsServer | undefined;
  /**
   * Count the Redis errors of a BullMQ worker: the `error` events it forwards from its ioredis
   * connections (the one it is given and the blocking one it makes), which cp.redis never sees.
   */
  countBullErrors(worker: ErrorEmitter): void;
  close(): Promise<void>;
}

/**
 * What a worker adds to its process's metrics: the transitions it wins (starts, local and SSH
 * ends, sweeps), its Redis connections' errors (its own and BullMQ's), the queue depth and its SSH pool, read at scrape
 * time; and, with VMO_METRICS_PORT, the server that shows them. (`npm start` leaves the port
 * unset: its API serves the one page.)
 */
export async function startWorkerMetrics(
  config: Pick<WorkerConfig, 'VMO_METRICS_PORT' | 'VMO_METRICS_HOST' | 'VMO_METRICS_TOKEN'>,
  cp: ControlPlane,
  sshPool: { readonly size: number; readonly channelsInUse: number },
  log: Logger,
): Promise<WorkerMetrics> {
  const stops = [
    countJobTransitions(onTransitionOnce),
    countRedisErrors(cp.redis),
    offerQueueDepth(cp.queue),
    provideScrapeSource('ssh_pool', (): SshPoolState => ({ connections: sshPool.size, channels: sshPool.channelsInUse })),
  ];
  const stop = () => stops.forEach((s) => s());
  let server: MetricsServer | undefined;
  if (config.VMO_METRICS_PORT !== undefined) {
    try {
      server = await startMetricsServer({ port: config.VMO_METRICS_PORT, host: config.VMO_METRICS_HOST, token: config.VMO_METRICS_TOKEN, log });
    } catch (err) {
      stop();
      throw err;
    }
  }
  return {
    server,
    countBullErrors(worker) {
      stops.push(countRedisErrors(worker));
    },
    async close() {
      stop();
      await server?.close();
    },
  };
}
