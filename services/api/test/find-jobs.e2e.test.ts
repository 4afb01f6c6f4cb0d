/**
 * Issue 10, "Finding jobs": GET /v1/jobs filters by several statuses, by label (`?label=k=v`,
 * repeatable, all must match, or a selector `?labels=`), by target name (agent or SSH host), and
 * an unknown name is a 422 as on submission, not an empty 200. On a real system (API and worker
 * processes, Postgres, Redis); keyset pagination keeps working under every filter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';

describe('GET /v1/jobs filters (real system)', () => {
  let system: TestSystem;
  const ids: Record<string, string> = {};
  let agentId: string;

  const list = async (query: string) => {
    const res = await system.client.request('GET', `/v1/jobs${query}`);
    expect(res.status, res.text).toBe(200);
    return res.body as { items: { id: string }[]; nextCursor: string | null };
  };
  /** The job names a query answers, newest first. */
  const found = async (query: string) => {
    const byId = Object.fromEntries(Object.entries(ids).map(([name, id]) => [id, name]));
    return (await list(query)).items.map((j) => byId[j.id] ?? j.id);
  };
  const q = (s: string) => encodeURIComponent(s);

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'find_jobs' });
    const submit = async (name: string, job: Record<string, unknown>) => {
      ids[name] = (await system.client.submit(job)).id;
    };
    // In this order: newest first is the reverse.
    await submit('ok-prod', { command: 'true', labels: { team: 'ops', env: 'prod' } });
    await submit('fail-staging', { command: 'exit 3', labels: { team: 'ops', env: 'staging' } });
    await submit('dev', { command: 'true', labels: { team: 'dev' } });
    await Promise.all(['ok-prod', 'fail-staging', 'dev'].map((n) => system.client.waitForEnd(ids[n]!)));

    const agent = await system.client.request('POST', '/v1/agents', { name: 'vm-a', labels: {} });
    expect(agent.status, agent.text).toBe(201);
    agentId = agent.body.id;
    await submit('on-agent', { command: 'true', target: { type: 'agent', agent: 'vm-a' }, labels: { team: 'ops', kind: 'agent' } });
    const host = await system.client.request('POST', '/v1/hosts', { name: 'db-1', environment: 'prod', host: '127.0.0.1', port: 1, user: 'deploy' });
    expect(host.status, host.text).toBe(201);
    await submit('on-host', { command: 'true', target: { type: 'ssh', host: 'db-1@prod' }, labels: { team: 'ops', kind: 'ssh' } });
  });

  afterAll(async () => {
    await system?.stop();
  });

  // The agent and SSH jobs (labelled `kind`) end when they end (an offline agent, a closed port): left out here.
  it('filters by one status or several', async () => {
    expect(await found(`?status=failed&labels=${q('!kind')}`)).toEqual(['fail-staging']);
    expect(await found(`?status=${q('failed,succeeded')}&labels=${q('!kind,team=ops')}`)).toEqual(['fail-staging', 'ok-prod']);
    expect(await found(`?status=${q('succeeded,failed,queued,running')}&labels=${q('!kind')}`)).toEqual(['dev', 'fail-staging', 'ok-prod']);
    expect(await found(`?status=${q('succeeded,failed')}&label=${q('team=dev')}`)).toEqual(['dev']);
  });

  it('filters by labels: ?label=k=v repeated (all must match) and a ?labels= selector', async () => {
    expect(await found(`?label=${q('team=ops')}`)).toEqual(['on-host', 'on-agent', 'fail-staging', 'ok-prod']);
    expect(await found(`?label=${q('team=ops')}&label=${q('env=prod')}`)).toEqual(['ok-prod']);
    expect(await found(`?label=${q('team=ops')}&label=${q('env=nowhere')}`)).toEqual([]);
    expect(await found(`?labels=${q('team in (ops,dev),env!=staging')}`)).toEqual(['on-host', 'on-agent', 'dev', 'ok-prod']);
    expect(await found(`?labels=${q('kind')}`)).toEqual(['on-host', 'on-agent']);
    expect(await found(`?labels=${q('!kind,team notin (dev)')}`)).toEqual(['fail-staging', 'ok-prod']);
    expect(await found(`?labels=${q('kind=ssh')}&label=${q('team=ops')}`)).toEqual(['on-host']);
  });

  it('filters by target: an agent or a host, by id or name', async () => {
    expect(await found('?target=vm-a')).toEqual(['on-agent']);
    expect(await found(`?target=${agentId}`)).toEqual(['on-agent']);
    expect(await found(`?target=${q('db-1@prod')}`)).toEqual(['on-host']);
    expect(await found('?target=db-1')).toEqual(['on-host']);
    expect(await found('?agent=vm-a')).toEqual(['on-agent']);
    expect(await found(`?target=vm-a&label=${q('team=dev')}`)).toEqual([]);
  });

  it('keeps keyset pagination under a filter: every match once, in order', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { id: string }[]; nextCursor: string | null } = await list(`?label=${q('team=ops')}&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['on-host', 'on-agent', 'fail-staging', 'ok-prod'].map((n) => ids[n]));
  });

  it('answers 422 for a name that is nobody, not an empty page', async () => {
    const agent = await system.client.request('GET', '/v1/jobs?agent=nope');
    expect([agent.status, agent.body.error.code]).toEqual([422, 'unknown_agent']);
    expect(agent.body.error.message).toMatch(/^agent: .*"nope"/);
    const target = await system.client.request('GET', '/v1/jobs?target=nope');
    expect([target.status, target.body.error.code]).toEqual([422, 'unknown_target']);
    expect(target.body.error.message).toMatch(/^target: .*"nope"/);
  });

  it('a revoked agent: its name is unknown, its id still finds its jobs', async () => {
    expect((await system.client.request('DELETE', `/v1/agents/${agentId}`)).status).toBe(204);
    const byName = await system.client.request('GET', '/v1/jobs?agent=vm-a');
    expect([byName.status, byName.body.error?.code]).toEqual([422, 'unknown_agent']);
    expect(await found(`?agent=${agentId}`)).toEqual(['on-agent']);
    expect(await found(`?target=${agentId}`)).toEqual(['on-agent']);
  });
});
