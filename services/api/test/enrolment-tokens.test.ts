/**
 * Issue 11 §Agent enrolment, the REST side (in-process, app.request): enrolment tokens are
 * created by an admin (shown once, stored hashed), listed without the token, revoked; an agent
 * exchanges one at POST /v1/agent/enrol for its own token, with the enrolment token's labels. A
 * token past maxUses or expiresAt, or revoked, is refused and creates nothing; concurrent
 * enrolments never pass maxUses; a retry of a lost answer with the same nonce gets the same agent
 * a new token and uses nothing; bad input is a 400 naming the field. POST
 * /v1/agents/{id}/rotate-token answers a new token and refuses the old one at once. What a real
 * agent does with all this is agent-enrolment.e2e.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentForToken, registerAgent } from '@vmo/shared/agents';
import { hashToken } from '@vmo/shared/tokens';
import { createApiToken, createUser, findUser } from '@vmo/shared/users';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

interface Reply {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

describe('enrolment tokens and POST /v1/agent/enrol (in-process)', () => {
  let fixture: InProcessApp;

  beforeAll(async () => {
    fixture = await startInProcessApp('enrolment_tokens');
    // Something for a refusal to leave alone.
    await registerAgent(fixture.cp, { name: 'taken', labels: {} });
  });
  afterAll(() => fixture?.close());

  async function call(method: string, path: string, body?: unknown, token: string | null = fixture.token): Promise<Reply> {
    const res = await fixture.app.request(path, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, text, headers: res.headers };
  }

  const create = async (body: Record<string, unknown> = {}) => {
    const res = await call('POST', '/v1/enrolment-tokens', { expiresAt: inDays(1), ...body });
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; token: string; [k: string]: unknown };
  };
  const enrol = (token: string, name: unknown) => call('POST', '/v1/agent/enrol', { name }, token);

  /** Every agent and enrolment-token row: a refusal must change none of them. */
  const rows = async () => {
    const sql = fixture.cp.database.sql;
    return JSON.stringify({
      agents: await sql`select id, name, labels, token_hash, revoked_at from agents order by id`,
      tokens: await sql`select id, uses, revoked_at from enrolment_tokens order by id`,
    });
  };
  const expectError = (res: Reply, status: number, code: string, message?: RegExp) => {
    expect({ status: res.status, code: res.body?.error?.code }, res.text).toEqual({ status, code });
    if (message) expect(res.body.error.message).toMatch(message);
  };

  it('creates a token shown once (vmo_enr_…), stored only as its sha256, listed and read without it', async () => {
    const created = await call('POST', '/v1/enrolment-tokens', { name: 'team-a image', labels: { team: 'a', env: 'staging' }, expiresAt: inDays(30), maxUses: 5 });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ name: 'team-a image', labels: { team: 'a', env: 'staging' }, status: 'active', maxUses: 5, uses: 0, revokedAt: null, createdBy: 'admin (VMO_ADMIN_TOKEN)' });
    expect(created.body.token).toMatch(/^vmo_enr_[A-Za-z0-9_-]{43}$/);
    expect(created.body.id).toMatch(/^enr_[0-9a-z]{20}$/);
    expect(created.headers.get('location')).toBe(`/v1/enrolment-tokens/${created.body.id}`);

    const [row] = await fixture.cp.database.sql`select * from enrolment_tokens where id = ${created.body.id}`;
    expect(row!.token_hash).toBe(hashToken(created.body.token));
    expect(JSON.stringify(row)).not.toContain(created.body.token);

    const list = await call('GET', '/v1/enrolment-tokens');
    expect(list.status, list.text).toBe(200);
    expect(list.body.items.map((t: { id: string }) => t.id)).toContain(created.body.id);
    expect(list.text).not.toContain(created.body.token);
    const one = await call('GET', `/v1/enrolment-tokens/${created.body.id}`);
    expect(one.status).toBe(200);
    const { token: _token, ...shown } = created.body;
    expect(one.body).toEqual(shown);
    expect(one.text).not.toContain(created.body.token);
  });

  it('an agent enrols with it: its own token (vmo_agt_…), the enrolment token\'s labels, one use counted', async () => {
    const enrolment = await create({ labels: { team: 'a' }, maxUses: 2 });
    const res = await enrol(enrolment.token, 'web-1.example.com');
    expect(res.status, res.text).toBe(201);
    expect(res.body).toEqual({ agentId: expect.stringMatching(/^agt_/), name: 'web-1.example.com', labels: { team: 'a' }, token: expect.stringMatching(/^vmo_agt_/) });
    expect(res.headers.get('location')).toBe(`/v1/agents/${res.body.agentId}`);
    expect((await agentForToken(fixture.cp, res.body.token))?.id).toBe(res.body.agentId);
    const agent = await call('GET', `/v1/agents/${res.body.agentId}`);
    expect(agent.body).toMatchObject({ name: 'web-1.example.com', labels: { team: 'a' }, status: 'offline' });
    expect((await call('GET', `/v1/enrolment-tokens/${enrolment.id}`)).body).toMatchObject({ uses: 1, status: 'active' });
  });

  it('refuses a token past maxUses (401, saying so), creating nothing', async () => {
    const enrolment = await create({ maxUses: 1 });
    expect((await enrol(enrolment.token, 'once-1')).status).toBe(201);
    const before = await rows();
    expectError(await enrol(enrolment.token, 'once-2'), 401, 'unauthorized', /enrolled its 1 agent\(s\) \(maxUses\)/);
    expect(await rows()).toBe(before);
    expect((await call('GET', `/v1/enrolment-tokens/${enrolment.id}`)).body).toMatchObject({ uses: 1, status: 'used_up' });
  });

  it('refuses a token past expiresAt (401, saying so), creating nothing', async () => {
    const enrolment = await create();
    // The API never creates an expired token: move this one into the past, as time would.
    await fixture.cp.database.sql`update enrolment_tokens set expires_at = now() - interval '1 second' where id = ${enrolment.id}`;
    const before = await rows();
    expectError(await enrol(enrolment.token, 'late-1'), 401, 'unauthorized', /^the enrolment token expired at /);
    expect(await rows()).toBe(before);
    expect((await call('GET', `/v1/enrolment-tokens/${enrolment.id}`)).body.status).toBe('expired');
  });

  it('refuses a revoked token (401), creating nothing; DELETE again is 204, an unknown id 404', async () => {
    const enrolment = await create();
    expect((await call('DELETE', `/v1/enrolment-tokens/${enrolment.id}`)).status).toBe(204);
    const before = await rows();
    expectError(await enrol(enrolment.token, 'revoked-1'), 401, 'unauthorized', /was revoked/);
    expect(await rows()).toBe(before);
    const shown = await call('GET', `/v1/enrolment-tokens/${enrolment.id}`);
    expect(shown.body).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) });
    expect((await call('DELETE', `/v1/enrolment-tokens/${enrolment.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/enrolment-tokens/${enrolment.id}`)).body.revokedAt).toBe(shown.body.revokedAt);
    expectError(await call('DELETE', '/v1/enrolment-tokens/enr_00000000000000000000'), 404, 'not_found');
    expectError(await call('GET', '/v1/enrolment-tokens/enr_00000000000000000000'), 404, 'not_found');
  });

  it('a taken name is 409 name_taken naming --name, and uses nothing', async () => {
    const enrolment = await create({ maxUses: 1 });
    const before = await rows();
    expectError(await enrol(enrolment.token, 'taken'), 409, 'name_taken', /^name: an agent named "taken" already exists; start this agent with another --name/);
    expect(await rows()).toBe(before);
    // The use was not spent: the one allowed enrolment still works under a free name.
    expect((await enrol(enrolment.token, 'not-taken')).status).toBe(201);
  });

  describe('a lost answer is retried with the same nonce', () => {
    const nonceOf = (c: string) => c.repeat(43);
    const withNonce = (token: string, name: string, nonce: string) => call('POST', '/v1/agent/enrol', { name, nonce }, token);
    const enrolRows = (agentId: string) =>
      fixture.cp.database.sql`select status, result, resource_id from audit_events where action = 'agents.enrol' and resource_id = ${agentId} order by id`;

    it('the retry answers 200 with the same agent and a new token; the unseen first token stops working; one use counted; an audit row for each; the nonce stored only hashed', async () => {
      const enrolment = await create({ labels: { fleet: 'lost' }, maxUses: 1 });
      const nonce = nonceOf('n');
      const first = await withNonce(enrolment.token, 'lost-answer-1', nonce);
      expect(first.status, first.text).toBe(201);
      // Its answer never reached the machine, which tries again with what it kept: same token, name and nonce.
      const retry = await withNonce(enrolment.token, 'lost-answer-1', nonce);
      expect(retry.status, retry.text).toBe(200);
      expect(retry.body).toEqual({ agentId: first.body.agentId, name: 'lost-answer-1', labels: { fleet: 'lost' }, token: expect.stringMatching(/^vmo_agt_/) });
      expect(retry.headers.get('location')).toBe(`/v1/agents/${first.body.agentId}`);
      expect(retry.body.token).not.toBe(first.body.token);
      expect(await agentForToken(fixture.cp, first.body.token)).toBeUndefined();
      expect((await agentForToken(fixture.cp, retry.body.token))?.id).toBe(first.body.agentId);
      // A one-use token: still one use, and only one agent of that name.
      expect((await call('GET', `/v1/enrolment-tokens/${enrolment.id}`)).body).toMatchObject({ uses: 1, status: 'used_up' });
      const agents = await fixture.cp.database.sql`select id, enrolment_token_id, enrol_nonce_hash from agents where name = 'lost-answer-1'`;
      expect(agents).toEqual([{ id: first.body.agentId, enrolment_token_id: enrolment.id, enrol_nonce_hash: hashToken(nonce) }]);
      expect(await enrolRows(first.body.agentId)).toEqual([
        { status: 201, result: 'allowed', resource_id: first.body.agentId },
        { status: 200, result: 'allowed', resource_id: first.body.agentId },
      ]);
      // Again (the second answer lost too): the same once more.
      const third = await withNonce(enrolment.token, 'lost-answer-1', nonce);
      expect(third.status, third.text).toBe(200);
      expect(await agentForToken(fixture.cp, retry.body.token)).toBeUndefined();
      expect((await agentForToken(fixture.cp, third.body.token))?.id).toBe(first.body.agentId);
    });

    it('another nonce, or none, for a name taken is 409 and changes nothing; so is the right nonce with another enrolment token, and the right one once the agent has connected', async () => {
      const enrolment = await create({ maxUses: 5 });
      const nonce = nonceOf('m');
      const first = await withNonce(enrolment.token, 'lost-answer-2', nonce);
      expect(first.status, first.text).toBe(201);
      const other = await create({ maxUses: 5 });
      const before = await rows();
      expectError(await withNonce(enrolment.token, 'lost-answer-2', nonceOf('o')), 409, 'name_taken', /^name: an agent named "lost-answer-2" already exists/);
      expectError(await enrol(enrolment.token, 'lost-answer-2'), 409, 'name_taken');
      expectError(await withNonce(other.token, 'lost-answer-2', nonce), 409, 'name_taken');
      expect(await rows()).toBe(before);
      expect((await agentForToken(fixture.cp, first.body.token))?.id).toBe(first.body.agentId);
      // Once it has connected it had its token: nobody re-answers it, nonce or not (that would hand over a live agent).
      await fixture.cp.database.sql`update agents set last_seen_at = now() where id = ${first.body.agentId}`;
      expectError(await withNonce(enrolment.token, 'lost-answer-2', nonce), 409, 'name_taken');
      expect((await agentForToken(fixture.cp, first.body.token))?.id).toBe(first.body.agentId);
      expect((await call('GET', `/v1/enrolment-tokens/${enrolment.id}`)).body.uses).toBe(1);
    });

    it('a revoked or expired enrolment token does not answer a retry (401); a retry racing its first attempt waits for it and gets the same agent', async () => {
      const revoked = await create();
      expect((await withNonce(revoked.token, 'lost-answer-3', nonceOf('r'))).status).toBe(201);
      expect((await call('DELETE', `/v1/enrolment-tokens/${revoked.id}`)).status).toBe(204);
      expectError(await withNonce(revoked.token, 'lost-answer-3', nonceOf('r')), 401, 'unauthorized', /was revoked/);
      const expired = await create();
      expect((await withNonce(expired.token, 'lost-answer-4', nonceOf('e'))).status).toBe(201);
      await fixture.cp.database.sql`update enrolment_tokens set expires_at = now() - interval '1 second' where id = ${expired.id}`;
      expectError(await withNonce(expired.token, 'lost-answer-4', nonceOf('e')), 401, 'unauthorized', /expired/);

      const racing = await create({ maxUses: 1 });
      const answers = await Promise.all(Array.from({ length: 4 }, () => withNonce(racing.token, 'lost-answer-5', nonceOf('x'))));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 201]);
      expect(new Set(answers.map((a) => a.body.agentId)).size).toBe(1);
      expect((await call('GET', `/v1/enrolment-tokens/${racing.id}`)).body.uses).toBe(1);
      // The last answer's token is the one that works; every earlier one was rotated away.
      const working = await Promise.all(answers.map(async (a) => (await agentForToken(fixture.cp, a.body.token)) !== undefined));
      expect(working.filter(Boolean)).toHaveLength(1);
    });
  });

  it('concurrent enrolments never pass maxUses: 3 of 20 succeed, 3 agents exist', async () => {
    const enrolment = await create({ maxUses: 3, labels: { race: 'yes' } });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => enrol(enrolment.token, `race-${i}`)));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(3);
    expect(answers.filter((a) => a.status === 401)).toHaveLength(17);
    const [{ n }] = (await fixture.cp.database.sql`select count(*)::int as n from agents where labels->>'race' = 'yes'`) as unknown as [{ n: number }];
    expect(n).toBe(3);
    expect((await call('GET', `/v1/enrolment-tokens/${enrolment.id}`)).body).toMatchObject({ uses: 3, status: 'used_up' });
  });

  it('only an enrolment token enrols, and an enrolment token is nothing else', async () => {
    const enrolment = await create();
    const agent = await registerAgent(fixture.cp, { name: 'kind-check', labels: {} });
    const before = await rows();
    expectError(await call('POST', '/v1/agent/enrol', { name: 'k-1' }, null), 401, 'unauthorized', /enrolment token required/);
    expectError(await enrol(fixture.token, 'k-2'), 403, 'forbidden', /takes an enrolment token/);
    expectError(await enrol(agent.token, 'k-3'), 403, 'forbidden', /takes an enrolment token/);
    expectError(await enrol('vmo_enr_' + 'x'.repeat(43), 'k-4'), 401, 'unauthorized', /^the enrolment token is not valid$/);
    // On the user API it is no user token.
    expectError(await call('GET', '/v1/agents', undefined, enrolment.token), 401, 'unauthorized');
    expectError(await call('POST', '/v1/enrolment-tokens', { expiresAt: inDays(1) }, enrolment.token), 401, 'unauthorized');
    expect(await rows()).toBe(before);
  });

  it('only admins: an operator is refused (403 naming agents:write) creating, listing, revoking and rotating, and nothing changes', async () => {
    await createUser(fixture.cp, { name: 'op-1', role: 'operator', email: null });
    const operator = (await createApiToken(fixture.cp, { user: (await findUser(fixture.cp, 'op-1'))!, name: 'op', createdBy: 'test' })).token;
    const enrolment = await create();
    const before = await rows();
    for (const [method, path, body] of [
      ['POST', '/v1/enrolment-tokens', { expiresAt: inDays(1) }],
      ['GET', '/v1/enrolment-tokens', undefined],
      ['GET', `/v1/enrolment-tokens/${enrolment.id}`, undefined],
      ['DELETE', `/v1/enrolment-tokens/${enrolment.id}`, undefined],
      ['POST', '/v1/agents/taken/rotate-token', undefined],
    ] as const) {
      const res = await call(method, path, body, operator);
      expectError(res, 403, 'forbidden', /^agents:write: role operator does not have agents:write/);
      expect(res.text).not.toContain('vmo_');
    }
    expect(await rows()).toBe(before);
  });

  describe('bad input is a 400 naming the field, and changes nothing', () => {
    it.each([
      ['no expiresAt', { expiresAt: undefined }, 'expiresAt', /^expiresAt: is required an ISO 8601 time/],
      ['expiresAt not a time', { expiresAt: 'tomorrow' }, 'expiresAt', /^expiresAt: must be an ISO 8601 time/],
      ['expiresAt without a zone', { expiresAt: '2030-01-01T00:00:00' }, 'expiresAt', /^expiresAt: must be an ISO 8601 time/],
      ['expiresAt a number', { expiresAt: Date.now() + 86_400_000 }, 'expiresAt', /^expiresAt: /],
      ['expiresAt in the past', { expiresAt: inDays(-1) }, 'expiresAt', /^expiresAt: must be in the future$/],
      ['expiresAt over a year away', { expiresAt: inDays(367) }, 'expiresAt', /^expiresAt: must be at most one year from now$/],
      ['maxUses 0', { maxUses: 0 }, 'maxUses', /^maxUses: must be a whole number from 1 to 1000000/],
      ['maxUses -1', { maxUses: -1 }, 'maxUses', /^maxUses: must be a whole number/],
      ['maxUses 1.5', { maxUses: 1.5 }, 'maxUses', /^maxUses: must be a whole number/],
      ['maxUses a string', { maxUses: '3' }, 'maxUses', /^maxUses: must be a whole number/],
      ['maxUses null', { maxUses: null }, 'maxUses', /^maxUses: must be a whole number/],
      ['maxUses over the limit', { maxUses: 1_000_001 }, 'maxUses', /^maxUses: must be a whole number/],
      ['labels not an object', { labels: 'team=a' }, 'labels', /^labels: /],
      ['a bad label key', { labels: { 'no spaces': 'x' } }, 'labels.no spaces', /label keys are 1-63/],
      ['a label value too long', { labels: { k: 'v'.repeat(256) } }, 'labels.k', /at most 255/],
      ['an empty name', { name: '' }, 'name', /^name: must not be empty/],
      ['a name too long', { name: 'n'.repeat(201) }, 'name', /^name: must be at most 200/],
      ['a name that is a number', { name: 7 }, 'name', /^name: must be a string/],
      ['a name with a NUL', { name: 'a\u0000b' }, 'name', /^name: must not contain NUL/],
      ['an unknown field', { uses: 0 }, 'body', /uses/],
    ])('POST /v1/enrolment-tokens with %s', async (_what, patch, field, message) => {
      const before = await rows();
      // JSON.stringify leaves out a field set to undefined: that is how "no expiresAt" is sent.
      const res = await call('POST', '/v1/enrolment-tokens', { expiresAt: inDays(1), ...patch });
      expectError(res, 400, 'validation_failed', message);
      expect(res.body.error.details.field).toBe(field);
      expect(await rows()).toBe(before);
    });

    it('POST /v1/enrolment-tokens with a body that is not JSON is 400 invalid_json', async () => {
      expectError(await call('POST', '/v1/enrolment-tokens', 'expiresAt=tomorrow'), 400, 'invalid_json');
    });

    it.each([
      ['no name', {}, /^name: is required/],
      ['an empty name', { name: '' }, /^name: must be 1-63 letters/],
      ['a name with a space', { name: 'my host' }, /^name: must be 1-63 letters/],
      ['a name of 64 characters', { name: 'n'.repeat(64) }, /^name: must be 1-63 letters/],
      ['a name that is a number', { name: 12 }, /^name: /],
      ['a nonce too short', { name: 'n-1', nonce: 'abc' }, /^nonce: must be 22-128 base64url characters/],
      ['a nonce not base64url', { name: 'n-1', nonce: '+'.repeat(43) }, /^nonce: must be 22-128 base64url characters/],
      ['a nonce that is a number', { name: 'n-1', nonce: 12 }, /^nonce: must be a string/],
    ])('POST /v1/agent/enrol with %s: 400 naming the field, no use spent', async (_what, body, message) => {
      const enrolment = await create({ maxUses: 1 });
      const before = await rows();
      const res = await call('POST', '/v1/agent/enrol', body, enrolment.token);
      expectError(res, 400, 'validation_failed', message);
      expect(res.body.error.details.field).toBe('nonce' in body ? 'nonce' : 'name');
      expect(await rows()).toBe(before);
    });

    it('GET /v1/enrolment-tokens pages newest first; a cursor that is no token id is 400 naming cursor', async () => {
      const first = await call('GET', '/v1/enrolment-tokens?limit=2');
      expect(first.body.items).toHaveLength(2);
      expect(first.body.nextCursor).toBe(first.body.items[1].id);
      const second = await call('GET', `/v1/enrolment-tokens?limit=2&cursor=${first.body.nextCursor}`);
      expect(second.status).toBe(200);
      const all = await call('GET', '/v1/enrolment-tokens?limit=500');
      expect([...first.body.items, ...second.body.items].map((t: { id: string }) => t.id)).toEqual(all.body.items.slice(0, 4).map((t: { id: string }) => t.id));
      const bad = await call('GET', '/v1/enrolment-tokens?cursor=enr_nope');
      expectError(bad, 400, 'validation_failed', /^cursor: /);
      expect(bad.body.error.details.field).toBe('cursor');
      expectError(await call('GET', '/v1/enrolment-tokens?limit=0'), 400, 'validation_failed', /^limit: /);
      expectError(await call('GET', '/v1/enrolment-tokens?status=active'), 400, 'validation_failed');
    });
  });

  it('rotate-token answers a new token once; the old one is refused at once, the new one accepted', async () => {
    const enrolled = await enrol((await create()).token, 'rotating');
    const old = enrolled.body.token as string;
    const res = await call('POST', '/v1/agents/rotating/rotate-token');
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ id: enrolled.body.agentId, name: 'rotating', token: expect.stringMatching(/^vmo_agt_/) });
    expect(res.body.token).not.toBe(old);
    expect(await agentForToken(fixture.cp, old)).toBeUndefined();
    expect((await agentForToken(fixture.cp, res.body.token))?.id).toBe(enrolled.body.agentId);
    expect((await call('GET', `/v1/agents/${enrolled.body.agentId}`)).text).not.toContain(res.body.token);
    expectError(await call('POST', '/v1/agents/nobody/rotate-token'), 404, 'not_found');
  });
});
