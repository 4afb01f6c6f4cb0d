/**
 * Issue 12 §Metrics, in process: who may read GET /metrics on the API. The metrics token or an
 * admin credential; a user of another role is 403 naming the rule, no credential 401; the page is
 * the Prometheus text format, with what this process counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, createUser, findUser } from '@vmo/shared/users';
import { AuditWriter } from '@vmo/shared/audit';
import { createLogger } from '@vmo/shared/logger';
import { TokenStore } from '../src/auth/token-store.ts';
import { createApp } from '../src/app.ts';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

const METRICS_TOKEN = 'in-process-metrics-token-0123456789';

describe('GET /metrics access (in-process)', () => {
  let fixture: InProcessApp;
  let app: ReturnType<typeof createApp>;
  let viewerToken: string;
  let adminUserToken: string;

  beforeAll(async () => {
    fixture = await startInProcessApp('metrics_access');
    const log = createLogger('test', 'silent');
    app = createApp({ cp: fixture.cp, tokens: new TokenStore(fixture.cp.database), log, audit: new AuditWriter({ sql: fixture.cp.database.sql, log }), metricsToken: METRICS_TOKEN });
    await createUser(fixture.cp, { name: 'watcher', role: 'viewer', email: null });
    await createUser(fixture.cp, { name: 'boss', role: 'admin', email: null });
    viewerToken = (await createApiToken(fixture.cp, { user: (await findUser(fixture.cp, 'watcher'))!, name: 'v', createdBy: 'test' })).token;
    adminUserToken = (await createApiToken(fixture.cp, { user: (await findUser(fixture.cp, 'boss'))!, name: 'a', createdBy: 'test' })).token;
  });
  afterAll(() => fixture?.close());

  const get = (token?: string) => app.request('/metrics', { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('the metrics token, an admin user and the bootstrap admin may read it, as the text format', async () => {
    for (const token of [METRICS_TOKEN, adminUserToken, fixture.token]) {
      const res = await get(token);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await res.text()).toMatch(/^# TYPE vmo_jobs_finished_total counter$/m);
    }
  });

  it('a viewer is 403 naming the rule; no credential or a wrong one is 401', async () => {
    const viewer = await get(viewerToken);
    expect(viewer.status).toBe(403);
    expect(((await viewer.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('VMO_METRICS_TOKEN') });
    for (const token of [undefined, `${METRICS_TOKEN}x`]) {
      const res = await get(token);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
  });
});
