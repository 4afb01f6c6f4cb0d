import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The one registry of this process. Every vmo metric is defined once, at module load
 * (vmo-metrics.ts), into it, so `npm start` (API and worker in one process) has each metric once
 * and its one /metrics shows each series once; API-only and worker-only processes get the same
 * names. Ours, not prom-client's global registry: a library that registers into the global one
 * can neither collide with ours nor leak into the scrape.
 */
export const metricsRegistry = new Registry();

let defaultsOn = false;
/**
 * The default process metrics (CPU, memory, event-loop lag, GC, handles), under their standard
 * names (process_*, nodejs_*) so the usual dashboards work; read at scrape time. Turned on at the
 * first scrape: a process that only imports the counters (a CLI, a test) pays for no monitors.
 */
function collectProcessMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

export interface MetricsPage {
  contentType: string;
  body: string;
}

/** The Prometheus text exposition of everything in the registry (scrape-time sources included). */
export async function renderMetrics(): Promise<MetricsPage> {
  collectProcessMetrics();
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}
