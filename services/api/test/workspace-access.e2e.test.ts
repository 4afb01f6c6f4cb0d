/**
 * Issue 18, who may run on a workspace's agent (real system: API process, Postgres, Redis; no
 * worker: the workspaces stay pending, their agents offline, the jobs queued, which is all this
 * needs). A workspace's agent carries the reserved labels only (workspace=<name>, workspace-id=<id>,
 * workspace-owner=<owner>), never the user's labels, which nobody else may set on an agent; and it
 * is its owner's and the admins': to anyone else, whatever their policies, it does not exist (the
 * 422 of an unknown agent, out of selector runs, previews and listings).
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutReservedLabels } from '@vmo/shared/domain';
import { TestSystem, type ApiClient, type ApiResponse } from '@vmo/testkit';

describe('a workspace agent is its owner\'s (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let admin: ApiClient;
  let alice: ApiClient;
  let bob: ApiClient;
  let aliceId: string;
  let bobId: string;
  /** Alice's and Bob's workspaces, both named `dev`. */
  let wsA: { id: string; name: string; agent: { id: string; name: string } };
  let wsB: { id: string; agent: { id: string; name: string } };

  const token = async (user: string): Promise<string> => {
    const res = await admin.request('POST', '/v1/tokens', { name: `${user}'s token`, user });
    expect(res.status, res.text).toBe(201);
    return res.body.token as string;
  };
  const expectError = (res: ApiResponse, status: number, code: string, field?: string) => {
    expect(res.status, res.text).toBe(status);
    expect(res.body.error.code, res.text).toBe(code);
    if (field !== undefined) expect(res.body.error.details?.field, res.text).toBe(field);
  };
  const runTargets = async (runId: string): Promise<string[]> =>
    (await sql<{ agent_id: string }[]>`select agent_id from jobs where run_id = ${runId} order by run_index`).map((r) => r.agent_id);

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'workspace_access', workers: 0 });
    admin = system.client;
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    for (const name of ['alice', 'bob']) {
      const res = await admin.request('POST', '/v1/users', { name, role: 'operator' });
      expect(res.status, res.text).toBe(201);
      if (name === 'alice') aliceId = res.body.id;
      else bobId = res.body.id;
    }
    alice = system.clientFor(0, await token('alice'));
    bob = system.clientFor(0, await token('bob'));
    // The broadest policy there is: every operator may run (and so read) on every agent.
    const policy = await admin.request('POST', '/v1/policies', { name: 'operators-everywhere', subjects: { roles: ['operator'] }, actions: ['run'], targets: '' });
    expect(policy.status, policy.text).toBe(201);
    const tpl = await admin.request('POST', '/v1/templates', { name: 'box', provider: 'fake', config: {} });
    expect(tpl.status, tpl.text).toBe(201);
    const a = await alice.request('POST', '/v1/workspaces', { name: 'dev', template: 'box', labels: { env: 'prod', role: 'web' } });
    expect(a.status, a.text).toBe(202);
    wsA = a.body.workspace;
    const b = await bob.request('POST', '/v1/workspaces', { name: 'dev', template: 'box', labels: { env: 'prod' } });
    expect(b.status, b.text).toBe(202);
    wsB = b.body.workspace;
  }, 120_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  it("the user's labels stay on the workspace; its agent has the reserved ones only, and keeps them", async () => {
    expect((await alice.request('GET', `/v1/workspaces/${wsA.id}`)).body.labels).toEqual({ env: 'prod', role: 'web' });
    const [row] = await sql`select labels from agents where id = ${wsA.agent.id}`;
    expect(row!.labels).toEqual({ workspace: wsA.name, 'workspace-id': wsA.id, 'workspace-owner': aliceId });
    // A PATCH of the workspace's labels does not reach the agent either.
    expect((await alice.request('PATCH', `/v1/workspaces/${wsA.id}`, { labels: { env: 'staging' } })).status).toBe(200);
    expect((await sql`select labels from agents where id = ${wsA.agent.id}`)[0]!.labels).toEqual({ workspace: wsA.name, 'workspace-id': wsA.id, 'workspace-owner': aliceId });
    // An admin's PATCH of the agent's labels replaces the rest, never the reserved ones.
    const patched = await admin.request('PATCH', `/v1/agents/${wsA.agent.id}`, { labels: { note: 'x' } });
    expect(patched.status, patched.text).toBe(200);
    expect((await sql`select labels from agents where id = ${wsA.agent.id}`)[0]!.labels).toEqual({ note: 'x', workspace: wsA.name, 'workspace-id': wsA.id, 'workspace-owner': aliceId });
    expect((await admin.request('PATCH', `/v1/agents/${wsA.agent.id}`, { labels: {} })).status).toBe(200);
    // An admin's selector on the user's labels finds no workspace agent.
    expectError(await admin.request('POST', '/v1/runs', { command: 'true', targets: { selector: 'env=prod' } }), 422, 'no_targets');
  });

  it('nobody sets the reserved keys on an agent: POST/PATCH /v1/agents and enrolment tokens are 400 naming the field; an agent\'s report loses them', async () => {
    for (const key of ['workspace', 'workspace-id', 'workspace-owner']) {
      expectError(await admin.request('POST', '/v1/agents', { name: `fake-${key}`, labels: { [key]: wsA.id } }), 400, 'validation_failed', `labels.${key}`);
      expectError(await admin.request('PATCH', `/v1/agents/${wsA.agent.id}`, { labels: { [key]: bobId } }), 400, 'validation_failed', `labels.${key}`);
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      expectError(await admin.request('POST', '/v1/enrolment-tokens', { labels: { [key]: aliceId }, expiresAt }), 400, 'validation_failed', `labels.${key}`);
    }
    expect((await sql`select count(*)::int as n from agents where name like 'fake-%'`)[0]!.n).toBe(0);
    expect((await sql`select labels from agents where id = ${wsA.agent.id}`)[0]!.labels).toEqual({ workspace: wsA.name, 'workspace-id': wsA.id, 'workspace-owner': aliceId });
    // What an agent reports (hello) is stored without them (gateway/agent-session.ts).
    expect(withoutReservedLabels({ workspace: wsA.name, 'workspace-id': wsA.id, 'workspace-owner': bobId, team: 'a' })).toEqual({ team: 'a' });
  });

  it("another user, even with a run policy on every agent, gets the 422 of an agent that does not exist, byte for byte", async () => {
    const before = (await sql`select count(*)::int as n from jobs`)[0]!.n;
    const nobody = await bob.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'ws-nobody-000000' } });
    expectError(nobody, 422, 'unknown_agent');
    for (const ref of [wsA.agent.name, wsA.agent.id]) {
      const res = await bob.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: ref } });
      expectError(res, 422, 'unknown_agent');
      expect(res.body.error.message).toBe(nobody.body.error.message.replace('ws-nobody-000000', ref));
      const listed = await bob.request('POST', '/v1/runs', { command: 'true', targets: { agents: [ref] } });
      expectError(listed, 422, 'unknown_agent', 'targets.agents');
    }
    // Its workspace too (the owner's and admins' only).
    expectError(await bob.request('POST', '/v1/jobs', { command: 'true', target: { type: 'workspace', workspace: wsA.id } }), 422, 'unknown_workspace');
    expect((await sql`select count(*)::int as n from jobs`)[0]!.n).toBe(before);
  });

  it("another user's selector runs, previews and listings leave it out; their own workspace's agent is in", async () => {
    for (const selector of ['workspace', '', `workspace=${wsA.name}`, `workspace-id=${wsA.id}`, `workspace-owner=${aliceId}`]) {
      const preview = await bob.request('GET', `/v1/targets?selector=${encodeURIComponent(selector)}&kinds=agent`);
      expect(preview.status, preview.text).toBe(200);
      expect((preview.body.items as { id: string }[]).map((t) => t.id), selector).not.toContain(wsA.agent.id);
    }
    const run = await bob.request('POST', '/v1/runs', { command: 'true', targets: { selector: 'workspace', kinds: ['agent'] } });
    expect(run.status, run.text).toBe(201);
    expect(await runTargets(run.body.id)).toEqual([wsB.agent.id]);
    expectError(await bob.request('POST', '/v1/runs', { command: 'true', targets: { selector: `workspace-id=${wsA.id}` } }), 422, 'no_targets');
    // Both are named dev: bob's `workspace=dev` is his own only.
    const byName = await bob.request('POST', '/v1/runs', { command: 'true', targets: { selector: `workspace=${wsA.name}` } });
    expect(byName.status, byName.text).toBe(201);
    expect(await runTargets(byName.body.id)).toEqual([wsB.agent.id]);

    const listing = await bob.request('GET', '/v1/agents?limit=100');
    expect(listing.status, listing.text).toBe(200);
    const ids = (listing.body.items as { id: string }[]).map((a) => a.id);
    expect(ids).toContain(wsB.agent.id);
    expect(ids).not.toContain(wsA.agent.id);
    expectError(await bob.request('GET', `/v1/agents/${wsA.agent.id}`), 404, 'not_found');
  });

  it('its owner and an admin may run there, by name and by selector', async () => {
    const own = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: wsA.agent.name } });
    expect(own.status, own.text).toBe(201);
    const ownRun = await alice.request('POST', '/v1/runs', { command: 'true', targets: { selector: 'workspace', kinds: ['agent'] } });
    expect(ownRun.status, ownRun.text).toBe(201);
    expect(await runTargets(ownRun.body.id)).toEqual([wsA.agent.id]);
    expect((await alice.request('GET', `/v1/agents/${wsA.agent.id}`)).status).toBe(200);

    const byAdmin = await admin.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: wsA.agent.id } });
    expect(byAdmin.status, byAdmin.text).toBe(201);
    const adminRun = await admin.request('POST', '/v1/runs', { command: 'true', targets: { selector: `workspace-owner=${aliceId}` } });
    expect(adminRun.status, adminRun.text).toBe(201);
    expect(await runTargets(adminRun.body.id)).toEqual([wsA.agent.id]);
    // Bob sees none of these jobs (they run on an agent hidden from him).
    expectError(await bob.request('GET', `/v1/jobs/${byAdmin.body.id}`), 404, 'not_found');
    // Alice sees the admin's job on her workspace (its agent is hers), not only her own jobs.
    expect((await alice.request('GET', `/v1/jobs/${byAdmin.body.id}`)).status).toBe(200);
  });

  it('without any policy, an owner still reads and runs on their own workspace (by name, by selector), and nothing else', async () => {
    const res = await admin.request('POST', '/v1/users', { name: 'carol', role: 'operator' });
    expect(res.status, res.text).toBe(201);
    // No policy at all while she works (the one above names every operator).
    const carol = system.clientFor(0, await token('carol'));
    await admin.request('DELETE', '/v1/policies/operators-everywhere');
    try {
      const ws = await carol.request('POST', '/v1/workspaces', { name: 'solo', template: 'box' });
      expect(ws.status, ws.text).toBe(202);
      const agent = ws.body.workspace.agent as { id: string; name: string };
      const job = await carol.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: agent.name } });
      expect(job.status, job.text).toBe(201);
      const run = await carol.request('POST', '/v1/runs', { command: 'true', targets: { selector: 'workspace=solo' } });
      expect(run.status, run.text).toBe(201);
      expect(await runTargets(run.body.id)).toEqual([agent.id]);
      expect((await carol.request('GET', `/v1/agents/${agent.id}`)).status).toBe(200);
      const listed = await carol.request('GET', '/v1/agents?limit=100');
      expect((listed.body.items as { id: string }[]).map((a) => a.id)).toEqual([agent.id]);
      // Another's workspace agent and any plain agent stay out of reach.
      expectError(await carol.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: wsA.agent.id } }), 422, 'unknown_agent');
      const plain = await admin.request('POST', '/v1/agents', { name: 'plain-1' });
      expect(plain.status, plain.text).toBe(201);
      expectError(await carol.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'plain-1' } }), 422, 'unknown_agent');
      const every = await carol.request('POST', '/v1/runs', { command: 'true', targets: { selector: '' } });
      expect(every.status, every.text).toBe(201);
      expect(await runTargets(every.body.id)).toEqual([agent.id]); // every machine she may see: her workspace's
    } finally {
      const again = await admin.request('POST', '/v1/policies', { name: 'operators-everywhere', subjects: { roles: ['operator'] }, actions: ['run'], targets: '' });
      expect(again.status, again.text).toBe(201);
    }
  });
});
