import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@vmo/shared/logger';
import { DASHBOARD_CSP, dashboardRoutes } from './dashboard.ts';

const log = createLogger('test', 'silent');
const dirs: string[] = [];
function builtDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vmo-dash-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="app"></div>');
  writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
  writeFileSync(join(dir, '..', `secret-${dirs.length}.txt`), 'not to be served');
  return dir;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('the dashboard at /', () => {
  it('answers any page path with index.html and the CSP, assets as immutable, and 304 for a known ETag', async () => {
    const app = dashboardRoutes({ dir: builtDir(), log });
    const page = await app.request('/jobs/job_x?status=failed');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app">');
    expect(page.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const asset = await app.request('/assets/index-abc.js');
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const again = await app.request('/assets/index-abc.js', { headers: { 'If-None-Match': asset.headers.get('etag')! } });
    expect(again.status).toBe(304);
    const head = await app.request('/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('never answers the API\'s paths, a missing file, or a path out of its folder', async () => {
    const app = dashboardRoutes({ dir: builtDir(), log });
    for (const path of ['/v1/jobs', '/v1/anything', '/health/ready', '/metrics', '/openapi.json', '/docs', '/assets/none.js', '/../secret-2.txt', '/assets/..%2f..%2fsecret-2.txt', '/%2e%2e/secret-2.txt']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404); // Hono's own 404: the API's notFound answers it in the real app
    }
    const post = await app.request('/jobs', { method: 'POST' });
    expect(post.status).toBe(404);
  });

  it('answers 503 dashboard_not_built until the files exist, then serves them without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmo-dash-'));
    dirs.push(dir);
    const app = dashboardRoutes({ dir, log });
    const before = await app.request('/jobs');
    expect(before.status).toBe(503);
    expect(((await before.json()) as { error: { code: string } }).error.code).toBe('dashboard_not_built');
    writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="app"></div>');
    await expect.poll(async () => (await app.request('/jobs')).status, { timeout: 5000, interval: 200 }).toBe(200);
  });

  it('tells the page whether the login proxy signs it in', async () => {
    const app = dashboardRoutes({ dir: builtDir(), log, signedInByProxy: (c) => c.req.header('x-test-proxy') === 'yes' });
    expect(await (await app.request('/dashboard.json')).json()).toEqual({ signedInByProxy: false });
    expect(await (await app.request('/dashboard.json', { headers: { 'x-test-proxy': 'yes' } })).json()).toEqual({ signedInByProxy: true });
  });
});
