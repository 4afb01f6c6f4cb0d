/**
 * Issue 12 §Metrics: GET /metrics on the API and on a worker's VMO_METRICS_PORT, read while jobs
 * run and parsed by an independent Prometheus text-format parser (parse-prometheus-text-format,
 * not prom-client): the counters move by exactly what ran, the histograms count it, the queue and
 * agents series are there, and a scrape without the metrics token or an admin credential is 401
 * (audited as denied).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the package ships no types; its output shape is declared below.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { TestSystem, uniqueSleepArg, waitFor, type ServiceProcess } from '@vmo/testkit';

interface Sample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}
const parse = parsePrometheusTextFormat as (text: string) => Family[];

const METRICS_TOKEN = 'metrics-e2e-token-0123456789abcdef';

/** Families by name; without types, a histogram's `_count` (say) comes back as one family per label set: merged. */
function byName(families: Family[]): Map<string, Family> {
  const map = new Map<string, Family>();
  for (const f of families) {
    const seen = map.get(f.name);
    if (seen) seen.metrics.push(...f.metrics);
    else map.set(f.name, { ...f, metrics: [...f.metrics] });
  }
  return map;
}

/**
 * One endpoint's scrape, parsed: families by name. The parser folds a histogram with labels into
 * one sample (its buckets merged, `_count` and `_sum` dropped), so the page is parsed a second
 * time without its `# TYPE` lines: every `_count`, `_sum` and `_bucket` series is then a family of
 * its own, labels kept. Both parses must accept the whole page.
 */
class Scrape {
  readonly byName: Map<string, Family>;
  private readonly samples: Map<string, Family>;
  constructor(readonly text: string) {
    this.byName = byName(parse(text));
    this.samples = byName(parse(text.split('\n').filter((l) => !l.startsWith('# TYPE ')).join('\n')));
  }
  family(name: string): Family | undefined {
    return this.byName.get(name);
  }
  /** The sum of a counter's or gauge's series whose labels include `labels` (0 when none). */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.matching(name, labels).reduce((n, s) => n + Number(s.value), 0);
  }
  /** The sum of a histogram's `_count` over the series whose labels include `labels`. */
  count(name: string, labels: Record<string, string> = {}): number {
    expect(this.family(name)?.type, name).toBe('HISTOGRAM');
    return this.matching(`${name}_count`, labels, this.samples).reduce((n, s) => n + Number(s.value), 0);
  }
  /** A histogram's series: each with its labels, `_sum`, and `+Inf` bucket. */
  histogram(name: string): { labels: Record<string, string>; sum: number; inf: number; count: number }[] {
    return this.matching(`${name}_count`, {}, this.samples).map((c) => {
      const labels = c.labels ?? {};
      const same = (s: Sample) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v);
      return {
        labels,
        count: Number(c.value),
        sum: Number(this.samples.get(`${name}_sum`)!.metrics.find(same)!.value),
        inf: Number(this.samples.get(`${name}_bucket`)!.metrics.find((s) => same(s) && s.labels?.le === '+Inf')!.value),
      };
    });
  }
  private matching(name: string, labels: Record<string, string>, from = this.byName): Sample[] {
    return (from.get(name)?.metrics ?? []).filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  }
}

describe('GET /metrics (real API, worker with VMO_METRICS_PORT, agent)', () => {
  let system: TestSystem;
  let worker: ServiceProcess;
  let workerMetricsUrl: string;
  let apiMetricsUrl: string;

  const scrape = async (url: string, token = METRICS_TOKEN): Promise<Scrape> => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, `${url}: ${res.status}`).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return new Scrape(await res.text());
  };
  /** Both endpoints at once: a job's counts land in the process that won its transition (the worker, or the API's gateway for an agent's end). */
  const scrapeBoth = async () => {
    const [api, worker] = await Promise.all([scrape(apiMetricsUrl), scrape(workerMetricsUrl)]);
    return { api, worker, total: (f: (s: Scrape) => number) => f(api) + f(worker) };
  };

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'metrics', workers: 0, env: { VMO_METRICS_TOKEN: METRICS_TOKEN } });
    // The worker and the agent start side by side: each is seconds of CPU on a loaded machine.
    [worker] = await Promise.all([system.startWorker({ VMO_METRICS_PORT: '0' }), system.startAgent('metrics-agent')]);
    const [, url] = await worker.waitForOutput(/"url":"(http:\/\/[^"]+\/metrics)"[^\n]*worker metrics listening/);
    workerMetricsUrl = url!;
    apiMetricsUrl = `${system.apiUrls[0]}/metrics`;
  }, 240_000);
  afterAll(async () => {
    await system?.stop();
  });

  it('the counters move by exactly the jobs that ran, by target kind and status; the histograms count them', async () => {
    const before = await scrapeBoth();
    const { client } = system;
    const jobs = await Promise.all([
      client.submit({ command: 'printf hello-metrics', target: { type: 'local' } }),
      client.submit({ command: 'printf again', target: { type: 'local' } }),
      client.submit({ command: 'echo failing >&2; exit 3', target: { type: 'local' } }),
      client.submit({ command: 'printf from-agent', target: { type: 'agent', agent: 'metrics-agent' } }),
    ]);
    // While one runs: the queue and subscriber-free series are served mid-flight too.
    const running = await client.submit({ command: `sleep ${uniqueSleepArg()}`, target: { type: 'local' } });
    await client.waitForStatus(running.id, 'running');
    const during = await scrapeBoth();
    expect(during.worker.family('vmo_queue_jobs')?.metrics.length).toBeGreaterThan(0);
    await client.request('POST', `/v1/jobs/${running.id}/cancel`, {});
    const ended = await Promise.all([...jobs, running].map((j) => client.waitForEnd(j.id)));
    expect(ended.map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'failed', 'succeeded', 'canceled']);

    // The end of a job is observed after its transition is written: poll until the counts settle.
    const after = await waitFor('every end counted', async () => {
      const s = await scrapeBoth();
      const finished = s.total((x) => x.value('vmo_jobs_finished_total')) - before.total((x) => x.value('vmo_jobs_finished_total'));
      return finished >= 5 ? s : undefined;
    });
    const delta = (f: (s: Scrape) => number) => after.total(f) - before.total(f);

    // Submitted: by the API that accepted them.
    expect(after.api.value('vmo_jobs_submitted_total', { target: 'local' }) - before.api.value('vmo_jobs_submitted_total', { target: 'local' })).toBe(4);
    expect(after.api.value('vmo_jobs_submitted_total', { target: 'agent' }) - before.api.value('vmo_jobs_submitted_total', { target: 'agent' })).toBe(1);
    expect(delta((s) => s.value('vmo_jobs_submitted_total'))).toBe(5);
    // Finished: wherever the end was won (the worker for local jobs, the gateway for the agent's).
    expect(delta((s) => s.value('vmo_jobs_finished_total', { target: 'local', status: 'succeeded' }))).toBe(2);
    expect(delta((s) => s.value('vmo_jobs_finished_total', { target: 'local', status: 'failed' }))).toBe(1);
    expect(delta((s) => s.value('vmo_jobs_finished_total', { target: 'local', status: 'canceled' }))).toBe(1);
    expect(delta((s) => s.value('vmo_jobs_finished_total', { target: 'agent', status: 'succeeded' }))).toBe(1);
    expect(delta((s) => s.value('vmo_jobs_finished_total'))).toBe(5);
    // Every one of them started, so each has a queue wait and a run time.
    expect(delta((s) => s.count('vmo_job_queue_wait_seconds', { target: 'local' }))).toBe(4);
    expect(delta((s) => s.count('vmo_job_queue_wait_seconds', { target: 'agent' }))).toBe(1);
    expect(delta((s) => s.count('vmo_job_duration_seconds', { target: 'local', status: 'failed' }))).toBe(1);
    expect(delta((s) => s.count('vmo_job_duration_seconds'))).toBe(5);
    const durations = after.worker.histogram('vmo_job_duration_seconds');
    expect(durations.map((d) => d.labels).sort((a, b) => a.status!.localeCompare(b.status!))).toEqual([
      { target: 'local', status: 'canceled' },
      { target: 'local', status: 'failed' },
      { target: 'local', status: 'succeeded' },
    ]);
    for (const d of durations) expect(d.inf === d.count && d.sum >= 0, JSON.stringify(d)).toBe(true);
    // Output: the worker stored the local jobs' bytes, the API (gateway) the agent's.
    const workerBytes = after.worker.value('vmo_output_bytes_stored_total') - before.worker.value('vmo_output_bytes_stored_total');
    const apiBytes = after.api.value('vmo_output_bytes_stored_total') - before.api.value('vmo_output_bytes_stored_total');
    expect(workerBytes).toBe('hello-metrics'.length + 'again'.length + 'failing\n'.length);
    expect(apiBytes).toBe('from-agent'.length);
  });

  it('both endpoints serve the queue depth by state, the process metrics, and each series once; the API its agents online', async () => {
    const { api, worker } = await scrapeBoth();
    for (const s of [api, worker]) {
      const states = s.family('vmo_queue_jobs')!.metrics.map((m) => m.labels?.state);
      expect(states).toEqual(expect.arrayContaining(['waiting', 'active', 'delayed', 'failed']));
      expect(s.family('process_cpu_seconds_total')?.metrics).toHaveLength(1);
      expect(s.family('vmo_postgres_errors_total')).toBeDefined();
      expect(s.family('vmo_redis_errors_total')).toBeDefined();
      const series = s.text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' ')));
      expect(new Set(series).size).toBe(series.length);
      // No series is labelled by a job, an agent or a host.
      expect(s.text).not.toMatch(/job_[0-9a-z]{20}|agt_|host_|metrics-agent/);
    }
    await waitFor('the agent counted online', async () => ((await scrape(apiMetricsUrl)).value('vmo_agents_online') === 1 ? true : undefined));
    expect(worker.family('vmo_ssh_connections')?.metrics[0]?.value).toBe('0');
  });

  it('the API takes an admin token too; without the metrics token or an admin credential it is 401 JSON, audited as denied', async () => {
    const asAdmin = await scrape(apiMetricsUrl, system.token);
    expect(asAdmin.family('vmo_jobs_submitted_total')).toBeDefined();

    for (const headers of [{}, { authorization: 'Bearer not-the-metrics-token-at-all' }] as Record<string, string>[]) {
      for (const url of [apiMetricsUrl, workerMetricsUrl]) {
        const res = await fetch(url, { headers });
        expect(res.status, url).toBe(401);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('unauthorized');
        expect(body.error.message).not.toContain(METRICS_TOKEN);
      }
    }
    const audit = await system.client.request('GET', '/v1/audit?result=denied&limit=100');
    expect(audit.status).toBe(200);
    const denied = audit.body.items.filter((e: { action: string; detail?: { attempted?: string } }) => e.action === 'auth.denied' && e.detail?.attempted === 'metrics.get');
    expect(denied.length, JSON.stringify(audit.body.items.slice(0, 3))).toBeGreaterThanOrEqual(2);
    expect(denied.every((e: { status: number }) => e.status === 401)).toBe(true);
  });
});
