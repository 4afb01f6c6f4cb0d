/**
 * Issue 13: GET /v1/events, "something changed" for live pages (BUS.md §10). Authenticated and
 * Origin-checked as the job stream; any role may open it; `hello` first, then `changed` frames
 * naming topics only (no ids, no data), coalesced by every publisher and again per socket; closed
 * 4401 when its token is revoked. And @vmo/client's events() reconnects and says so. Real API and
 * worker processes, a real agent process, Postgres and Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, VmoStreamClosedError, type ChangeTopic } from '@vmo/client';
import { openWebSocket, TcpProxy, TestSystem, waitFor, type ApiClient, type UpgradeResult } from '@vmo/testkit';

type Open = Extract<UpgradeResult, { kind: 'open' }>;
type Frame = { type: 'hello' } | { type: 'changed'; topics: ChangeTopic[] };

/** Generous: the machine is shared; a change is normally on the socket within half a second. */
const CHANGE_DEADLINE_MS = 30_000;

describe('GET /v1/events (real system)', () => {
  let system: TestSystem;
  let admin: ApiClient;
  let viewerToken: string;
  const sockets: Open[] = [];
  let tokens = 0;

  const newToken = async (user: string, extra: Record<string, unknown> = {}): Promise<{ id: string; token: string }> => {
    const res = await admin.request('POST', '/v1/tokens', { name: `${user}'s events token ${++tokens}`, user, ...extra });
    expect(res.status, res.text).toBe(201);
    return { id: res.body.id, token: res.body.token };
  };
  const upgrade = (opts: Parameters<typeof openWebSocket>[1] = {}) => openWebSocket(`${system.apiUrls[0]}/v1/events`, opts);
  /** An open feed, once its `hello` came (from then on every change reaches it). */
  const feed = async (opts: Parameters<typeof openWebSocket>[1]): Promise<Open> => {
    const res = await upgrade(opts);
    expect(res.kind === 'refused' ? `refused ${res.status} ${res.body}` : 'open').toBe('open');
    const open = res as Open;
    sockets.push(open);
    await waitFor('the hello frame', () => open.texts.length > 0, CHANGE_DEADLINE_MS);
    expect(JSON.parse(open.texts[0]!)).toEqual({ type: 'hello' });
    return open;
  };
  const frames = (s: Open, from = 0): Frame[] => s.texts.slice(from).map((t) => JSON.parse(t) as Frame);
  /** The first `changed` frame naming `topic` among the frames after index `from`. */
  const changed = (s: Open, topic: ChangeTopic, from: number) =>
    waitFor(`a "${topic}" change on the events socket`, () => frames(s, from).find((f) => f.type === 'changed' && f.topics.includes(topic)), CHANGE_DEADLINE_MS);
  const closedWithin = async (s: Open, ms = CHANGE_DEADLINE_MS) => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms)));
    try {
      return await Promise.race([s.closed, deadline]);
    } finally {
      clearTimeout(timer);
    }
  };

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'events_stream' });
    admin = system.client;
    for (const [name, role] of [['ev-viewer', 'viewer'], ['ev-revoked', 'viewer'], ['ev-admin', 'admin']]) {
      const res = await admin.request('POST', '/v1/users', { name, role });
      expect(res.status, res.text).toBe(201);
    }
    viewerToken = (await newToken('ev-viewer')).token;
  }, 120_000);

  afterAll(async () => {
    for (const s of sockets) s.ws.terminate();
    await system?.stop();
  });

  it('refuses an upgrade without a credential (401) and one from a foreign page (403, before the token is looked at)', async () => {
    const none = await upgrade();
    expect(none.kind === 'refused' && none.status).toBe(401);
    const foreign = await upgrade({ token: viewerToken, headers: { origin: 'https://evil.example' } });
    expect(foreign.kind === 'refused' && foreign.status).toBe(403);
    const bearerAlone = await upgrade({ protocols: [`bearer.${viewerToken}`] });
    expect(bearerAlone.kind === 'refused' && bearerAlone.status).toBe(400);
  });

  it('a viewer opens it as a browser does (subprotocols, the own origin), gets hello, and hears of a submitted job: a topic, no ids', async () => {
    const s = await feed({ protocols: ['vmo.v1', `bearer.${viewerToken}`], headers: { origin: new URL(system.apiUrls[0]!).origin } });
    expect(s.protocol).toBe('vmo.v1');
    const from = s.texts.length;
    const job = await admin.submit({ command: 'true', target: { type: 'local' } });
    await changed(s, 'jobs', from);
    await admin.waitForEnd(job.id);
    // Every frame is a topic list and nothing else: the job's id never appears.
    for (const f of frames(s)) expect(Object.keys(f).sort()).toEqual(f.type === 'hello' ? ['type'] : ['topics', 'type']);
    expect(s.texts.join('\n')).not.toContain(job.id);
  });

  it('an agent connecting and disconnecting is an `agents` change each time', async () => {
    const s = await feed({ token: viewerToken });
    const registered = await admin.request('POST', '/v1/agents', { name: 'ev-agent' });
    expect(registered.status, registered.text).toBe(201);
    await changed(s, 'agents', 0); // the registration
    const beforeConnect = s.texts.length;
    const agent = system.spawnAgent(registered.body.token);
    await system.waitForAgentStatus(registered.body.id, 'online', 75_000);
    await changed(s, 'agents', beforeConnect);
    const beforeDisconnect = s.texts.length;
    await agent.stop();
    await system.waitForAgentStatus(registered.body.id, 'offline');
    await changed(s, 'agents', beforeDisconnect);
  });

  it('a host import is a `hosts` change; a token scoped to hosts:read hears of hosts only', async () => {
    const { token } = await newToken('ev-viewer', { scopes: ['hosts:read'] });
    const hostsOnly = await feed({ token });
    const s = await feed({ token: viewerToken });
    const from = s.texts.length;
    const imported = await admin.request('POST', '/v1/hosts/import', { config: 'Host ev-db-1\n  HostName 10.0.0.9\n  User deploy\n', environment: 'events' });
    expect(imported.status, imported.text).toBe(200);
    expect(imported.body.created).toHaveLength(1);
    await changed(s, 'hosts', from);
    await changed(hostsOnly, 'hosts', 0);
    // A job too, which the hosts-only socket must not hear of (the viewer's does).
    await admin.submit({ command: 'true', target: { type: 'local' } });
    await changed(s, 'jobs', from);
    // A host created after the job's change went out: once the hosts-only socket has it, a `jobs`
    // it should not hear would have come before it (one bus, one order).
    expect((await admin.request('POST', '/v1/hosts', { name: 'ev-db-2', environment: 'events', host: '10.0.0.10', user: 'deploy' })).status).toBe(201);
    await waitFor('the second host on the hosts-only socket', () => frames(hostsOnly).filter((f) => f.type === 'changed').length >= 2, CHANGE_DEADLINE_MS);
    for (const f of frames(hostsOnly)) if (f.type === 'changed') expect(f.topics).toEqual(['hosts']);
  });

  it('a token scoped to none of the read scopes is refused 403, naming them', async () => {
    const { token } = await newToken('ev-admin', { scopes: ['audit:read'] });
    const res = await upgrade({ token });
    expect(res.kind === 'refused' && res.status).toBe(403);
    expect(res.kind === 'refused' && JSON.parse(res.body).error.message).toContain('jobs:read, agents:read, hosts:read');
  });

  it('revoking the token closes the socket 4401, and a reconnect is 401', async () => {
    const { id, token } = await newToken('ev-revoked');
    const s = await feed({ token });
    expect((await admin.request('DELETE', `/v1/tokens/${id}`)).status).toBe(204);
    expect(await closedWithin(s)).toEqual({ code: 4401, reason: 'the token is not valid' });
    const again = await upgrade({ token });
    expect(again.kind === 'refused' && again.status).toBe(401);
  });

  it('500 submissions are a few frames, not 500: at most one per 250 ms per socket', async () => {
    const offline = await admin.request('POST', '/v1/agents', { name: 'ev-offline' });
    expect(offline.status, offline.text).toBe(201);
    const s = await feed({ token: viewerToken });
    // Jobs for an agent that never connects: they wait queued, so the burst is the submissions.
    const started = performance.now();
    const from = s.texts.length;
    const queue = Array.from({ length: 500 }, (_, i) => i);
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          const res = await admin.request('POST', '/v1/jobs', { command: `echo ${i}`, target: { type: 'agent', agent: 'ev-offline' } });
          expect(res.status, res.text).toBe(201);
        }
      }),
    );
    await changed(s, 'jobs', from);
    const elapsed = performance.now() - started;
    const jobFrames = frames(s, from).filter((f) => f.type === 'changed' && f.topics.includes('jobs')).length;
    // The socket's own coalescing bounds it whatever the machine's speed: one frame per 250 ms, plus
    // the first; counted at any moment, with the time elapsed until that moment.
    expect(jobFrames).toBeGreaterThanOrEqual(1);
    expect(jobFrames).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 1);
    expect(jobFrames).toBeLessThan(500);
    expect((await admin.request('DELETE', '/v1/agents/ev-offline')).status).toBe(204);
  });

  it("the client's events() hears changes, and after its connection is cut reconnects and says so", async () => {
    const proxy = await TcpProxy.start(Number(new URL(system.apiUrls[0]!).port));
    const abort = new AbortController();
    const opens: boolean[] = [];
    const downs: number[] = [];
    const topics: ChangeTopic[] = [];
    const client = createClient({ baseUrl: proxy.url, token: viewerToken });
    const done = client.events({
      signal: abort.signal,
      onOpen: ({ reconnected }) => opens.push(reconnected),
      onDown: (d) => downs.push(d.closeCode ?? d.status ?? -1),
      onChange: (t) => topics.push(...t),
      backoff: { initialMs: 100, maxMs: 500 },
    });
    try {
      await waitFor('the first hello', () => opens.length === 1, CHANGE_DEADLINE_MS);
      await admin.request('POST', '/v1/hosts', { name: 'ev-client-1', environment: 'events', host: '10.0.0.11', user: 'deploy' });
      await waitFor('a hosts change through the client', () => topics.includes('hosts'), CHANGE_DEADLINE_MS);
      proxy.dropOpen();
      await waitFor('the reconnect', () => opens.length === 2, CHANGE_DEADLINE_MS);
      expect(opens).toEqual([false, true]);
      expect(downs.length).toBeGreaterThanOrEqual(1);
      topics.length = 0;
      await admin.submit({ command: 'true', target: { type: 'local' } });
      await waitFor('a jobs change after the reconnect', () => topics.includes('jobs'), CHANGE_DEADLINE_MS);
    } finally {
      abort.abort();
      await done; // resolves on abort
      await proxy.close();
    }
  });

  it("the client's events() stops with VmoStreamClosedError 4401 when its token is revoked", async () => {
    const { id, token } = await newToken('ev-revoked');
    const opened: boolean[] = [];
    // The outcome is taken at once: the 4401 close can come before the DELETE's own answer, and a
    // rejection with no handler yet is an unhandled rejection (the full run saw it once).
    const outcome = createClient({ baseUrl: system.apiUrls[0]!, token })
      .events({ onChange: () => {}, onOpen: ({ reconnected }) => opened.push(reconnected) })
      .then(() => undefined, (e: unknown) => e);
    await waitFor('the hello', () => opened.length === 1, CHANGE_DEADLINE_MS);
    expect((await admin.request('DELETE', `/v1/tokens/${id}`)).status).toBe(204);
    const err = await outcome;
    expect(err).toBeInstanceOf(VmoStreamClosedError);
    expect((err as VmoStreamClosedError).closeCode).toBe(4401);
  });
});
