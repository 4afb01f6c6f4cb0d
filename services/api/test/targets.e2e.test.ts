/**
 * Issue 10, "Targets": GET /v1/targets previews what a label selector matches among agents and
 * SSH hosts, on a real system (API and worker processes, a real agent, Postgres, Redis). Matches
 * are exact, sorted by kind then name; a revoked agent and a deleted host never match; an agent's
 * reported labels count under its registered ones; the selector evaluated in SQL agrees with the
 * matcher in domain/label-selector.ts over the same label sets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchesLabelSelector, parseLabelSelector } from '@vmo/shared/domain';
import { TestSystem } from '@vmo/testkit';

describe('GET /v1/targets (real system)', () => {
  let system: TestSystem;
  /** What each target's labels are, as the API should show them: [kind, name, labels]. */
  const fleet: [kind: 'agent' | 'ssh', name: string, labels: Record<string, string>][] = [];
  let onlineAgentId: string;

  const preview = async (query: string) => {
    const res = await system.client.request('GET', `/v1/targets${query}`);
    expect(res.status, res.text).toBe(200);
    return res.body as { total: number; items: { kind: string; id: string; name: string; labels: Record<string, string>; online: boolean | null }[] };
  };
  const names = async (query: string) => (await preview(query)).items.map((t) => `${t.kind}:${t.name}`);

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'targets' });
    const register = async (name: string, labels: Record<string, string>) => {
      const res = await system.client.request('POST', '/v1/agents', { name, labels });
      expect(res.status, res.text).toBe(201);
      return res.body as { id: string };
    };
    // One real agent, online, reporting labels of its own; its registered `env` wins over the reported one.
    const online = await system.startAgent('web-1', { labels: { env: 'prod', role: 'web' }, env: { VMO_AGENT_LABELS: 'env=staging,zone=a,kernel=6' } });
    onlineAgentId = online.id;
    fleet.push(['agent', 'web-1', { env: 'prod', role: 'web', zone: 'a', kernel: '6' }]);
    await register('web-2', { env: 'prod', role: 'web', canary: 'true' });
    fleet.push(['agent', 'web-2', { env: 'prod', role: 'web', canary: 'true' }]);
    await register('api-1', { env: 'prod', role: 'api', tier: 'app' });
    fleet.push(['agent', 'api-1', { env: 'prod', role: 'api', tier: 'app' }]);
    await register('db-9', { env: 'prod', role: 'api', tier: 'db' });
    fleet.push(['agent', 'db-9', { env: 'prod', role: 'api', tier: 'db' }]);
    await register('stage-1', { env: 'staging', role: 'web' });
    fleet.push(['agent', 'stage-1', { env: 'staging', role: 'web' }]);
    // Revoked: matches nothing, whatever its labels.
    const revoked = await register('gone-1', { env: 'prod', role: 'web' });
    expect((await system.client.request('DELETE', `/v1/agents/${revoked.id}`)).status).toBe(204);

    const host = async (name: string, environment: string, labels: Record<string, string>) => {
      const res = await system.client.request('POST', '/v1/hosts', { name, environment, host: '10.0.0.1', user: 'deploy', labels });
      expect(res.status, res.text).toBe(201);
      return res.body as { id: string };
    };
    await host('web-3', 'prod', { env: 'prod', role: 'web' });
    fleet.push(['ssh', 'web-3@prod', { env: 'prod', role: 'web' }]);
    await host('web-3', 'lab', { env: 'lab', role: 'web' });
    fleet.push(['ssh', 'web-3@lab', { env: 'lab', role: 'web' }]);
    await host('bare', 'prod', {});
    fleet.push(['ssh', 'bare@prod', {}]);
    const deleted = await host('old-1', 'prod', { env: 'prod', role: 'web' });
    expect((await system.client.request('DELETE', `/v1/hosts/${deleted.id}`)).status).toBe(204);
  });

  afterAll(async () => {
    await system?.stop();
  });

  it.each<[string, string[]]>([
    ['env=prod,role in (web,api),!canary,tier!=db', ['agent:api-1', 'agent:web-1', 'ssh:web-3@prod']],
    ['env=prod', ['agent:api-1', 'agent:db-9', 'agent:web-1', 'agent:web-2', 'ssh:web-3@prod']],
    ['env==prod,role=web', ['agent:web-1', 'agent:web-2', 'ssh:web-3@prod']],
    ['env!=prod', ['agent:stage-1', 'ssh:bare@prod', 'ssh:web-3@lab']],
    ['tier notin (db)', ['agent:api-1', 'agent:stage-1', 'agent:web-1', 'agent:web-2', 'ssh:bare@prod', 'ssh:web-3@lab', 'ssh:web-3@prod']],
    ['tier', ['agent:api-1', 'agent:db-9']],
    ['!role', ['ssh:bare@prod']],
    ['zone=a', ['agent:web-1']], // a reported label
    ['env=staging', ['agent:stage-1']], // web-1 reported env=staging, but its registered env=prod wins
    ['role in (nothing)', []],
    ['', ['agent:api-1', 'agent:db-9', 'agent:stage-1', 'agent:web-1', 'agent:web-2', 'ssh:bare@prod', 'ssh:web-3@lab', 'ssh:web-3@prod']],
  ])('%j matches exactly what the domain matcher says', async (selector, expected) => {
    const parsed = parseLabelSelector(selector);
    const byMatcher = fleet.filter(([, , labels]) => matchesLabelSelector(parsed, labels)).map(([kind, name]) => `${kind}:${name}`);
    expect(byMatcher.sort()).toEqual([...expected].sort());
    const answer = await preview(`?selector=${encodeURIComponent(selector)}`);
    expect(answer.items.map((t) => `${t.kind}:${t.name}`)).toEqual(expected);
    expect(answer.total).toBe(expected.length);
  });

  it('shows each target with its kind, id, merged labels and presence', async () => {
    const { items } = await preview(`?selector=${encodeURIComponent('role=web,env in (prod,lab)')}`);
    const web1 = items.find((t) => t.name === 'web-1')!;
    expect(web1).toEqual({ kind: 'agent', id: onlineAgentId, name: 'web-1', labels: { env: 'prod', role: 'web', zone: 'a', kernel: '6' }, online: true });
    expect(items.find((t) => t.name === 'web-2')).toMatchObject({ kind: 'agent', online: false });
    expect(items.find((t) => t.name === 'web-3@lab')).toMatchObject({ kind: 'ssh', id: expect.stringMatching(/^host_/), labels: { env: 'lab', role: 'web' }, online: null });
    expect(items.map((t) => t.name)).not.toContain('gone-1');
    expect(items.map((t) => t.name)).not.toContain('old-1@prod');
  });

  it('filters by kind and pages with limit, the total counting everything matched', async () => {
    expect(await names('?selector=role%3Dweb&kinds=ssh')).toEqual(['ssh:web-3@lab', 'ssh:web-3@prod']);
    expect(await names('?selector=role%3Dweb&kinds=agent')).toEqual(['agent:stage-1', 'agent:web-1', 'agent:web-2']);
    expect(await preview('?selector=role%3Dweb&kinds=agent,ssh&limit=2')).toMatchObject({ total: 5, items: [{ name: 'stage-1' }, { name: 'web-1' }] });
    expect(await preview('?selector=role%3Dweb&limit=4')).toMatchObject({ total: 5, items: [{ name: 'stage-1' }, { name: 'web-1' }, { name: 'web-2' }, { name: 'web-3@lab' }] });
    expect(await preview('?selector=role%3Dweb&limit=3')).toMatchObject({ total: 5, items: [{ name: 'stage-1' }, { name: 'web-1' }, { name: 'web-2' }] });
  });

  it('refuses a selector that does not parse with 400 naming the field and the position', async () => {
    const res = await system.client.request('GET', `/v1/targets?selector=${encodeURIComponent('env=prod,role in web')}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'validation_failed',
      message: 'selector: at position 17: expected "(", found "web"',
      details: { field: 'selector', position: 17 },
    });
  });
});
