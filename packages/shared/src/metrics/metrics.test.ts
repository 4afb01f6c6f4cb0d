import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { inBackground } from '../background.ts';
import { countJobsSubmitted, countJobTransitions, recordJobTransition, type ObservedTransition } from './job-metrics.ts';
import { LABEL_VALUES, QUEUE_STATE_LABELS } from './labels.ts';
import { presentsMetricsToken } from './metrics-auth.ts';
import { metricsRegistry, renderMetrics } from './registry.ts';
import { provideScrapeSource, setScrapeSourceDeadline } from './scrape-sources.ts';
import { countPostgresError, countRedisError, storeErrorKind, storeOf } from './store-errors.ts';
import { outputBytesStored, postgresErrors, scrapeSourceFailures, wsSubscribers, wsSubscribersCutSlow } from './vmo-metrics.ts';

/** Labels no metric may have: each value would be a series of its own (a job, a machine, a person). */
const UNBOUNDED_LABELS = /^(job|job_id|id|agent|agent_id|agent_name|host|host_id|hostname|user|user_id|run|run_id|token|path|url|command|name)$/;

const ours = () => metricsRegistry.getMetricsAsJSON().then((all) => all.filter((m) => m.name.startsWith('vmo_')));

const at = new Date('2026-01-01T00:00:00Z');
const later = (s: number) => new Date(at.getTime() + s * 1000);
const job = (over: Partial<ObservedTransition['job']> = {}): ObservedTransition['job'] => ({ target: { type: 'local' }, createdAt: at, startedAt: null, finishedAt: null, ...over });

/** Exercise every metric with every kind of label, so the checks below see real series. */
async function exerciseAll() {
  countJobsSubmitted('local');
  countJobsSubmitted('agent', 3);
  countJobsSubmitted('something-new');
  recordJobTransition({ job: job({ startedAt: later(2) }), from: 'queued', to: 'running' });
  recordJobTransition({ job: job({ startedAt: later(2), finishedAt: later(5) }), from: 'running', to: 'failed' });
  recordJobTransition({ job: job({ target: { type: 'ssh' } }), from: 'queued', to: 'canceled' });
  outputBytesStored.inc(10);
  wsSubscribers.inc();
  wsSubscribersCutSlow.inc();
  countPostgresError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }));
  countRedisError(new Error('Connection is closed.'));
  const stops = [
    provideScrapeSource('queue', async () => ({ waiting: 2, active: 1 })),
    provideScrapeSource('agents', () => 4),
    provideScrapeSource('ssh_pool', () => ({ connections: 1, channels: 2 })),
  ];
  const page = await renderMetrics();
  for (const stop of stops) stop();
  return page;
}

describe('metrics: names and labels follow the Prometheus conventions', () => {
  it('every vmo metric: vmo_ prefix, snake_case, base units, _total on counters and only there, bounded labels', async () => {
    await exerciseAll();
    const metrics = await ours();
    expect(metrics.map((m) => m.name).sort()).toEqual([
      'vmo_agents_online',
      'vmo_job_duration_seconds',
      'vmo_job_queue_wait_seconds',
      'vmo_jobs_finished_total',
      'vmo_jobs_submitted_total',
      'vmo_metrics_source_failures_total',
      'vmo_output_bytes_stored_total',
      'vmo_postgres_errors_total',
      'vmo_queue_jobs',
      'vmo_redis_errors_total',
      'vmo_ssh_channels_in_use',
      'vmo_ssh_connections',
      'vmo_ws_subscribers',
      'vmo_ws_subscribers_cut_slow_total',
    ]);
    for (const m of metrics) {
      expect(m.name, m.name).toMatch(/^vmo_[a-z][a-z0-9_]*[a-z0-9]$/);
      expect(m.help.length, `${m.name} has help`).toBeGreaterThan(10);
      if (String(m.type) === 'counter') expect(m.name).toMatch(/_total$/);
      else expect(m.name, `${m.name}: only counters end in _total`).not.toMatch(/_total$/);
      // Base units only: seconds and bytes, never ms or KiB.
      expect(m.name).not.toMatch(/_(ms|milliseconds|minutes|hours|kb|kib|mb|mib)(_|$)/);
      if (String(m.type) === 'histogram') expect(m.name).toMatch(/_(seconds|bytes)$/);
      for (const v of m.values) {
        for (const [label, value] of Object.entries(v.labels)) {
          if (label === 'le') continue; // the histogram's own bucket label
          expect(label, `${m.name} label ${label}`).toMatch(/^[a-z][a-z0-9_]*$/);
          expect(label).not.toMatch(UNBOUNDED_LABELS);
          expect(LABEL_VALUES[label], `${m.name}: label ${label} has a fixed set of values in labels.ts`).toBeDefined();
          expect(LABEL_VALUES[label], `${m.name}{${label}="${value}"}`).toContain(String(value));
        }
      }
    }
  });

  it('the page is the text format, with the default process metrics and each series once', async () => {
    const { contentType, body } = await exerciseAll();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toMatch(/^process_cpu_seconds_total \d/m);
    expect(body).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    const series = body.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' ')));
    expect(new Set(series).size).toBe(series.length);
    for (const state of QUEUE_STATE_LABELS) expect(body).toContain(`vmo_queue_jobs{state="${state}"}`);
    expect(body).toMatch(/^vmo_agents_online 4$/m);
    expect(body).toMatch(/^vmo_ssh_channels_in_use 2$/m);
    expect(body).toMatch(/^vmo_jobs_submitted_total\{target="unknown"\} \d/m);
  });

  it('a scrape source that hangs is left out after its deadline and counted; the rest of the page is served', async () => {
    const failures = async () => (await scrapeSourceFailures.get()).values.find((v) => v.labels.source === 'queue')?.value ?? 0;
    const before = await failures();
    let reads = 0;
    const restore = setScrapeSourceDeadline(50);
    const stop = provideScrapeSource('queue', () => {
      reads++;
      return new Promise<never>(() => {});
    });
    try {
      const { body } = await renderMetrics();
      expect(body).not.toMatch(/^vmo_queue_jobs\{/m);
      expect(body).toMatch(/^process_cpu_seconds_total \d/m);
      // The next scrapes start no other read while the first is pending (a stalled Redis would
      // queue one more command per scrape): left out and counted at once.
      expect((await renderMetrics()).body).not.toMatch(/^vmo_queue_jobs\{/m);
      expect(reads).toBe(1);
      expect(await failures()).toBe(before + 2);
      // Counted as it happens, so it shows from the next scrape on (a page's metrics are read at once).
      expect((await renderMetrics()).body).toMatch(/^vmo_metrics_source_failures_total\{source="queue"\} [1-9]/m);
      expect(reads).toBe(1);
    } finally {
      stop();
      restore();
    }
  });

  it('the transition counter registers under one key (jobs/lifecycle onTransitionOnce: once per process)', () => {
    const keys: string[] = [];
    let removed = 0;
    const stop = countJobTransitions((key, observer) => {
      keys.push(key);
      expect(observer).toBe(recordJobTransition);
      return () => void removed++;
    });
    expect(keys).toEqual(['metrics']);
    stop();
    expect(removed).toBe(1);
  });

  it('store errors: a bounded kind, and the store only when the error names it', () => {
    expect(storeErrorKind(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe('connection');
    expect(storeErrorKind(Object.assign(new Error('x'), { code: 'CONNECT_TIMEOUT' }))).toBe('timeout');
    expect(storeErrorKind(Object.assign(new Error('duplicate key'), { name: 'PostgresError', code: '23505' }))).toBe('query');
    expect(storeErrorKind(new Error('something else'))).toBe('other');
    expect(storeOf(new Error('wrapped', { cause: Object.assign(new Error('x'), { name: 'PostgresError', code: '23505' }) }))).toBe('postgres');
    expect(storeOf(Object.assign(new Error('x'), { code: 'CONNECTION_CLOSED' }))).toBe('postgres');
    expect(storeOf(new Error('Connection is closed.'))).toBe('redis');
    expect(storeOf(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeUndefined();
  });

  it('work in the background that fails on a store is counted by its store and kind', async () => {
    const queryErrors = async () => (await postgresErrors.get()).values.find((v) => v.labels.kind === 'query')?.value ?? 0;
    const before = await queryErrors();
    const failed = Promise.reject(Object.assign(new Error('relation does not exist'), { name: 'PostgresError', code: '42P01' }));
    inBackground(pino({ level: 'silent' }), 'a test task', failed);
    await failed.catch(() => {});
    await new Promise((resolve) => setImmediate(resolve));
    expect(await queryErrors()).toBe(before + 1);
  });

  it('the metrics token: Bearer, exact, anything else refused', () => {
    const token = 'metrics-token-0123456789';
    expect(presentsMetricsToken(`Bearer ${token}`, token)).toBe(true);
    expect(presentsMetricsToken(`Bearer ${token}x`, token)).toBe(false);
    expect(presentsMetricsToken(token, token)).toBe(false);
    expect(presentsMetricsToken(undefined, token)).toBe(false);
    expect(presentsMetricsToken(`Bearer ${token}`, undefined)).toBe(false);
  });
});
