import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@vmo/shared/logger';
import { tryParseEnv } from '@vmo/shared/config';
import { workerEnv } from './env.ts';
import { startMetricsServer, type MetricsServer } from './metrics-server.ts';

const TOKEN = 'worker-metrics-token-0123456789';
const log = createLogger('test', 'silent');

describe("a worker's metrics server (VMO_METRICS_PORT)", () => {
  let withToken: MetricsServer;
  let open: MetricsServer;
  beforeAll(async () => {
    [withToken, open] = await Promise.all([
      startMetricsServer({ port: 0, host: '127.0.0.1', token: TOKEN, log }),
      startMetricsServer({ port: 0, host: '127.0.0.1', token: undefined, log }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([withToken?.close(), open?.close()]);
  });

  it('serves the text format to the metrics token, 401 JSON without it or with another', async () => {
    const ok = await fetch(withToken.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await ok.text()).toMatch(/^process_cpu_seconds_total \d/m);
    for (const headers of [{}, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }] as Record<string, string>[]) {
      const res = await fetch(withToken.url, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('VMO_METRICS_TOKEN') } });
    }
  });

  it('without a token, the bind address is the protection: loopback by default, and only /metrics is served', async () => {
    expect(new URL(open.url).hostname).toBe('127.0.0.1');
    expect((await fetch(open.url)).status).toBe(200);
    const other = await fetch(new URL('/v1/jobs', open.url));
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await fetch(open.url, { method: 'POST' })).status).toBe(404);
  });

  it('configuration: off by default, loopback by default, a bad port or a short token refused naming the variable', () => {
    const base = { VMO_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x' };
    const defaults = tryParseEnv(workerEnv, base);
    expect(defaults.VMO_METRICS_PORT).toBeUndefined();
    expect(defaults.VMO_METRICS_HOST).toBe('127.0.0.1');
    expect(defaults.VMO_METRICS_TOKEN).toBeUndefined();
    expect(tryParseEnv(workerEnv, { ...base, VMO_METRICS_PORT: '' }).VMO_METRICS_PORT).toBeUndefined();
    expect(tryParseEnv(workerEnv, { ...base, VMO_METRICS_PORT: '9464' }).VMO_METRICS_PORT).toBe(9464);
    expect(() => tryParseEnv(workerEnv, { ...base, VMO_METRICS_PORT: '70000' })).toThrow(/^VMO_METRICS_PORT: /);
    expect(() => tryParseEnv(workerEnv, { ...base, VMO_METRICS_PORT: 'x' })).toThrow(/^VMO_METRICS_PORT: /);
    let message = '';
    try {
      tryParseEnv(workerEnv, { ...base, VMO_METRICS_TOKEN: 'short-secret' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^VMO_METRICS_TOKEN: must be at least 16 characters/);
    expect(message).not.toContain('short-secret');
  });
});
