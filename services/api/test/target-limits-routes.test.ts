/**
 * Issue 10, "Per-target concurrency": `maxConcurrentJobs` on agents and hosts, set at
 * registration or by PATCH (PATCH /v1/agents/{id} is new: labels and the limit), shown in their
 * views; bad values are a 400 naming the field and change nothing. In-process (app.request): no
 * worker needed. What the limit does to jobs is services/worker/test/target-gate.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

const BAD_LIMITS: [string, unknown][] = [
  ['0', 0],
  ['-1', -1],
  ['a string "2"', '2'],
  ['1.5', 1.5],
  ['a boolean', true],
  ['more than 100,000', 100_001],
];

describe('maxConcurrentJobs on agents and hosts (in-process)', () => {
  let fixture: InProcessApp;

  beforeAll(async () => {
    fixture = await startInProcessApp('target_limits');
    // What the refusals below must leave alone.
    expect((await call('POST', '/v1/agents', { name: 'lim-fixed', labels: { keep: 'me' }, maxConcurrentJobs: 2 })).status).toBe(201);
    expect((await call('POST', '/v1/hosts', { name: 'lim-host', host: '10.0.0.9', user: 'u', maxConcurrentJobs: 2 })).status).toBe(201);
  });
  afterAll(() => fixture?.close());

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fixture.app.request(path, {
      method,
      headers: { authorization: `Bearer ${fixture.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, text };
  };

  /** Every agent and host row, to show a refused request changed nothing. */
  const rows = async () => {
    const sql = fixture.cp.database.sql;
    const agents = await sql`select id, name, labels, max_concurrent_jobs, revoked_at from agents order by id`;
    const hosts = await sql`select id, name, labels, max_concurrent_jobs, updated_at from hosts order by id`;
    return JSON.stringify({ agents, hosts });
  };

  const expectRefused = (res: { status: number; body: any; text: string }, field: string) => {
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.message).toMatch(new RegExp(`^${field}: `));
    expect(res.body.error.details?.field).toBe(field);
  };

  it('an agent: registered with a limit, shown in its view and the listing, changed and cleared by PATCH', async () => {
    const created = await call('POST', '/v1/agents', { name: 'lim-1', maxConcurrentJobs: 3 });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ name: 'lim-1', maxConcurrentJobs: 3, runningJobs: 0 });
    expect((await call('GET', '/v1/agents/lim-1')).body.maxConcurrentJobs).toBe(3);
    expect((await call('GET', '/v1/agents')).body.items.find((a: { name: string }) => a.name === 'lim-1').maxConcurrentJobs).toBe(3);

    const byDefault = await call('POST', '/v1/agents', { name: 'lim-none' });
    expect(byDefault.body.maxConcurrentJobs).toBeNull();

    const changed = await call('PATCH', `/v1/agents/${created.body.id}`, { maxConcurrentJobs: 1 });
    expect(changed.status, changed.text).toBe(200);
    expect(changed.body).toMatchObject({ id: created.body.id, name: 'lim-1', maxConcurrentJobs: 1 });
    expect(changed.body.token).toBeUndefined();

    // By name too; labels replace the registered ones and leave the limit alone.
    const relabelled = await call('PATCH', '/v1/agents/lim-1', { labels: { role: 'web' } });
    expect(relabelled.body).toMatchObject({ labels: { role: 'web' }, maxConcurrentJobs: 1 });

    const cleared = await call('PATCH', '/v1/agents/lim-1', { maxConcurrentJobs: null });
    expect(cleared.body).toMatchObject({ labels: { role: 'web' }, maxConcurrentJobs: null });
    expect((await call('GET', '/v1/agents/lim-1')).body.maxConcurrentJobs).toBeNull();

    // An empty patch changes nothing and answers the agent.
    expect((await call('PATCH', '/v1/agents/lim-1', {})).body).toMatchObject({ name: 'lim-1', labels: { role: 'web' }, maxConcurrentJobs: null });
  });

  it('PATCH /v1/agents/{id}: 404 for an unknown or revoked agent, with nothing changed', async () => {
    const agent = await call('POST', '/v1/agents', { name: 'lim-revoked' });
    expect((await call('DELETE', `/v1/agents/${agent.body.id}`)).status).toBe(204);
    const before = await rows();
    for (const ref of [agent.body.id, 'lim-revoked', 'agt_0123456789abcdefghij', 'nobody']) {
      const res = await call('PATCH', `/v1/agents/${ref}`, { maxConcurrentJobs: 2 });
      expect(res.status, res.text).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect(await rows()).toBe(before);
  });

  it.each(BAD_LIMITS)('refuses maxConcurrentJobs %s with 400 naming the field, on every route, and changes nothing', async (_what, value) => {
    const before = await rows();
    expectRefused(await call('POST', '/v1/agents', { name: 'lim-bad', maxConcurrentJobs: value }), 'maxConcurrentJobs');
    expectRefused(await call('PATCH', '/v1/agents/lim-fixed', { maxConcurrentJobs: value }), 'maxConcurrentJobs');
    // Not even the valid field next to it is written.
    expectRefused(await call('PATCH', '/v1/agents/lim-fixed', { labels: { changed: 'yes' }, maxConcurrentJobs: value }), 'maxConcurrentJobs');
    expectRefused(await call('POST', '/v1/hosts', { name: 'lim-bad', host: '10.0.0.8', user: 'u', maxConcurrentJobs: value }), 'maxConcurrentJobs');
    expectRefused(await call('PATCH', '/v1/hosts/lim-host', { maxConcurrentJobs: value }), 'maxConcurrentJobs');
    expect(await rows()).toBe(before);
  });

  it('PATCH /v1/agents/{id}: refuses unknown fields, bad labels and a body that is not JSON, with nothing changed', async () => {
    const before = await rows();
    const unknown = await call('PATCH', '/v1/agents/lim-fixed', { name: 'renamed' });
    expect(unknown.status, unknown.text).toBe(400);
    expect(unknown.body.error.code).toBe('validation_failed');
    expect(unknown.text).toMatch(/name/);
    const badKey = await call('PATCH', '/v1/agents/lim-fixed', { labels: { 'bad key!': 'v' } });
    expect(badKey.status, badKey.text).toBe(400);
    expect(badKey.body.error.message).toMatch(/^labels\.bad key!: label keys are/);
    expectRefused(await call('PATCH', '/v1/agents/lim-fixed', { labels: 'role=web' }), 'labels');
    const notJson = await call('PATCH', '/v1/agents/lim-fixed', '{"maxConcurrentJobs": ');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('invalid_json');
    expect(await rows()).toBe(before);
  });

  it('a host: created with a limit, shown, changed and cleared by PATCH', async () => {
    const created = await call('POST', '/v1/hosts', { name: 'lim-ssh', host: '10.0.0.7', user: 'u', maxConcurrentJobs: 4 });
    expect(created.status, created.text).toBe(201);
    expect(created.body.maxConcurrentJobs).toBe(4);
    expect((await call('GET', '/v1/hosts/lim-ssh')).body.maxConcurrentJobs).toBe(4);
    expect((await call('GET', '/v1/hosts')).body.items.find((h: { name: string }) => h.name === 'lim-ssh').maxConcurrentJobs).toBe(4);
    expect((await call('PATCH', '/v1/hosts/lim-ssh', { maxConcurrentJobs: 2 })).body.maxConcurrentJobs).toBe(2);
    expect((await call('PATCH', '/v1/hosts/lim-ssh', { port: 2222 })).body).toMatchObject({ port: 2222, maxConcurrentJobs: 2 });
    expect((await call('PATCH', '/v1/hosts/lim-ssh', { maxConcurrentJobs: null })).body.maxConcurrentJobs).toBeNull();
    expect((await call('POST', '/v1/hosts', { name: 'lim-ssh-none', host: '10.0.0.6', user: 'u' })).body.maxConcurrentJobs).toBeNull();
  });

  it('an ssh config import leaves a host\'s limit alone (an ssh config has no such setting)', async () => {
    expect((await call('POST', '/v1/hosts', { name: 'imported', host: '10.0.0.5', user: 'u', maxConcurrentJobs: 3 })).status).toBe(201);
    const res = await call('POST', '/v1/hosts/import', { config: 'Host imported\n  HostName 10.0.0.50\n  User deploy\n\nHost fresh\n  HostName 10.0.0.51\n  User deploy\n' });
    expect(res.status, res.text).toBe(200);
    expect(res.body.updated.map((h: { name: string; maxConcurrentJobs: number | null }) => [h.name, h.maxConcurrentJobs])).toEqual([['imported', 3]]);
    expect(res.body.created.map((h: { name: string; maxConcurrentJobs: number | null }) => [h.name, h.maxConcurrentJobs])).toEqual([['fresh', null]]);
  });

  it('the OpenAPI document describes the field and PATCH /v1/agents/{id}', async () => {
    const doc = (await call('GET', '/v1/openapi.json')).body;
    expect(doc.paths['/v1/agents/{id}'].patch.operationId).toBe('updateAgent');
    expect(doc.components.schemas.Agent.properties.maxConcurrentJobs).toBeDefined();
    expect(doc.components.schemas.Host.properties.maxConcurrentJobs).toBeDefined();
    expect(doc.components.schemas.Job.properties.queuePosition).toBeDefined();
    expect(Object.keys(doc.components.schemas.AgentPatch.properties).sort()).toEqual(['labels', 'maxConcurrentJobs']);
  });
});
