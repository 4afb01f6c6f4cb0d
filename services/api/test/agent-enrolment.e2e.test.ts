/**
 * Issue 11 §Agent enrolment, end to end: a real API and worker, real `vmo-agent` processes.
 * `vmo-agent --state-dir DIR --enrol-file F [--name N]` exchanges an enrolment token on its first
 * start for a token of its own, kept in DIR/agent.token (0600, DIR created 0700), and is online with
 * the enrolment token's labels; restarted with the same DIR it needs no enrolment token. A token
 * past maxUses or expiresAt, or revoked, is refused (the agent exits 2, nothing is created), and
 * an enrolment token never opens /v1/agent/connect. rotate-token: the old token is refused at
 * once, the live socket closes, and the agent comes back once the new token is installed, its job
 * having run on (PROTOCOL.md §8). An enrolment whose answer is lost (cut, or the agent killed while
 * waiting for it) is retried with the nonce kept in DIR, and answered again for the same agent.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '@vmo/shared/tokens';
import { openWebSocket, registerSecret, ServiceProcess, TestSystem, waitFor } from '@vmo/testkit';

/**
 * A loopback proxy in front of the API that loses the first enrolment answer (`HTTP/1.1 201`)
 * after the server committed it: `cut` resets the connection, `hold` keeps it open and forwards
 * nothing more (until the agent is killed). Everything else (later enrolments, the agent's
 * WebSocket) goes through untouched.
 */
class LoseFirstEnrolAnswer {
  private armed = true;
  private readonly sockets = new Set<Socket>();
  readonly lost: Promise<void>;
  private onLost!: () => void;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    this.lost = new Promise((resolve) => (this.onLost = resolve));
  }

  static async start(target: string, mode: 'cut' | 'hold'): Promise<LoseFirstEnrolAnswer> {
    const { hostname, port } = new URL(target);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new LoseFirstEnrolAnswer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('connection', (client) => {
      const upstream = connect(Number(port), hostname);
      for (const sock of [client, upstream]) {
        proxy.sockets.add(sock);
        sock.on('error', () => {});
        sock.on('close', () => (proxy.sockets.delete(sock), client.destroy(), upstream.destroy()));
      }
      let held = false;
      client.on('data', (d: Buffer) => upstream.write(d));
      upstream.on('data', (d: Buffer) => {
        if (held) return;
        if (proxy.armed && d.subarray(0, 13).toString() === 'HTTP/1.1 201 ') {
          proxy.armed = false;
          proxy.onLost();
          if (mode === 'cut') return void (client.resetAndDestroy(), upstream.resetAndDestroy());
          held = true;
          return;
        }
        client.write(d);
      });
    });
    return proxy;
  }

  async close(): Promise<void> {
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('agent enrolment (real API, worker and agents)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  const dir = mkdtempSync(join(tmpdir(), 'vmo-enrol-'));

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'enrolment' });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await system?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

  /** POST /v1/enrolment-tokens; the token written to a 0600 file, as an operator would hand it to a machine. */
  async function enrolmentToken(body: Record<string, unknown> = {}) {
    const res = await system.client.request('POST', '/v1/enrolment-tokens', { expiresAt: inDays(1), ...body });
    expect(res.status, res.text).toBe(201);
    registerSecret('an enrolment token', res.body.token);
    const file = join(dir, `${res.body.id}.enr`);
    writeFileSync(file, `${res.body.token}\n`, { mode: 0o600 });
    return { id: res.body.id as string, token: res.body.token as string, file };
  }

  function agent(args: string[]): ServiceProcess {
    const proc = new ServiceProcess('agent', { VMO_LOG_LEVEL: 'info' }, ['--server', system.apiUrls[0]!, ...args]);
    system.agents.push(proc); // stopped with the system
    return proc;
  }

  const agentNamed = async (name: string) => {
    const res = await system.client.request('GET', `/v1/agents/${name}`);
    return res.status === 200 ? res.body : undefined;
  };
  const uses = async (id: string) => (await system.client.request('GET', `/v1/enrolment-tokens/${id}`)).body.uses as number;
  const agentCount = async () => Number((await sql`select count(*)::int as n from agents`)[0]!.n);
  const mode = (path: string) => statSync(path).mode & 0o777;

  it('§8 enrols on first start: online with the token\'s labels, its token 0600 in a 0700 state dir it created; restarted with that dir it needs no enrolment token', async () => {
    const enr = await enrolmentToken({ labels: { fleet: 'blue', env: 'staging' }, maxUses: 5 });
    const stateDir = join(dir, 'new', 'state'); // does not exist yet
    const first = agent(['--state-dir', stateDir, '--enrol-file', enr.file, '--name', 'enrolled-1']);
    const online = await waitFor('enrolled-1 online', async () => ((await agentNamed('enrolled-1'))?.status === 'online' ? agentNamed('enrolled-1') : undefined), 30_000, 100);
    expect(online.labels).toMatchObject({ fleet: 'blue', env: 'staging' });

    const tokenPath = join(stateDir, 'agent.token');
    expect(mode(stateDir)).toBe(0o700);
    expect(mode(tokenPath)).toBe(0o600);
    const token = readFileSync(tokenPath, 'utf8').trim();
    registerSecret('an enrolled agent token', token);
    expect(token).toMatch(/^vmo_agt_/);
    expect((await sql`select token_hash from agents where id = ${online.id}`)[0]!.token_hash).toBe(hashToken(token));
    expect(await uses(enr.id)).toBe(1);

    const job = await system.client.submit({ command: 'echo enrolled-and-running', target: { type: 'agent', agent: 'enrolled-1' } });
    expect(await system.client.waitForEnd(job.id)).toMatchObject({ status: 'succeeded' });
    expect((await system.client.logs(job.id)).toString()).toBe('enrolled-and-running\n');

    expect((await first.stop()).code).toBe(0);
    await system.waitForAgentStatus(online.id, 'offline');
    const agentsBefore = await agentCount();

    // A restart with the same dir and no enrolment token: the same agent, back online.
    const second = agent(['--state-dir', stateDir]);
    await system.waitForAgentStatus(online.id, 'online', 30_000);
    expect((await second.stop()).code).toBe(0);
    await system.waitForAgentStatus(online.id, 'offline');

    // With the enrolment token still on its command line (one image for a fleet): ignored once enrolled.
    const third = agent(['--state-dir', stateDir, '--enrol-file', enr.file, '--name', 'enrolled-1']);
    await system.waitForAgentStatus(online.id, 'online', 30_000);
    await third.waitForOutput(/"msg":"already enrolled: the enrolment token is not used"/);
    expect(await uses(enr.id)).toBe(1);
    expect(await agentCount()).toBe(agentsBefore);
    expect(readFileSync(tokenPath, 'utf8').trim()).toBe(token);
    expect((await third.stop()).code).toBe(0);
  });

  it('the name defaults to the hostname; a name already taken is refused: exit 2 saying to give --name, nothing kept, no use spent', async () => {
    const enr = await enrolmentToken({ maxUses: 3 });
    const byHostname = agent(['--state-dir', join(dir, 'host-a'), '--enrol-file', enr.file]);
    const online = await waitFor('the hostname-named agent online', async () => ((await agentNamed(hostname()))?.status === 'online' ? agentNamed(hostname()) : undefined), 30_000, 100);
    expect(online.name).toBe(hostname());

    const agentsBefore = await agentCount();
    const clash = agent(['--state-dir', join(dir, 'host-b'), '--enrol-file', enr.file]);
    const exited = await clash.exited;
    expect(exited.code).toBe(2);
    expect(clash.output).toContain(`an agent named ${JSON.stringify(hostname())} already exists; start this agent with another --name`);
    expect(existsSync(join(dir, 'host-b', 'agent.token'))).toBe(false);
    expect(await agentCount()).toBe(agentsBefore);
    expect(await uses(enr.id)).toBe(1);
    await byHostname.stop();
  });

  it.each([
    ['past maxUses', async (enr: { id: string; file: string }) => {
      // Its one use taken by another machine.
      const other = agent(['--state-dir', join(dir, `other-${enr.id}`), '--enrol-file', enr.file, '--name', `other-${enr.id.slice(4, 12)}`]);
      await waitFor('the first machine enrolled', async () => ((await uses(enr.id)) === 1 ? true : undefined), 30_000, 100);
      await other.stop();
    }, { maxUses: 1 }, /has enrolled its 1 agent\(s\) \(maxUses\)/],
    ['past expiresAt', async (enr: { id: string }) => {
      await sql`update enrolment_tokens set expires_at = now() - interval '1 second' where id = ${enr.id}`;
    }, {}, /the enrolment token expired at /],
    ['revoked', async (enr: { id: string }) => {
      expect((await system.client.request('DELETE', `/v1/enrolment-tokens/${enr.id}`)).status).toBe(204);
    }, {}, /the enrolment token was revoked/],
  ] as const)('an enrolment token %s is refused: the agent exits 2 with the reason, keeps nothing, creates no agent', async (_what, spoil, body, reason) => {
    const enr = await enrolmentToken(body);
    await spoil(enr);
    const usesBefore = await uses(enr.id);
    const agentsBefore = await agentCount();
    const stateDir = join(dir, `refused-${enr.id}`);
    const refused = agent(['--state-dir', stateDir, '--enrol-file', enr.file, '--name', `refused-${enr.id.slice(4, 12)}`]);
    expect((await refused.exited).code).toBe(2);
    expect(refused.output).toMatch(reason);
    expect(refused.output).toMatch(/vmo-agent: the server refused the enrolment \(HTTP 401\): .*; not retrying\n/);
    expect(refused.output).not.toContain(enr.token);
    expect(existsSync(join(stateDir, 'agent.token'))).toBe(false);
    expect(await agentCount()).toBe(agentsBefore);
    expect(await uses(enr.id)).toBe(usesBefore);
  });

  it.each([
    ['cut', 'the connection is cut after the server enrolled it: the same process retries'],
    ['hold', 'the agent is killed while the answer is held: the next process, with the same state dir, retries'],
  ] as const)('§8 a lost enrolment answer (%s): %s with the nonce kept in its state dir; the same agent, online, with the token it got; one use; nothing stuck on a 409', async (how, _what) => {
    const enr = await enrolmentToken({ maxUses: 1, labels: { lost: how } });
    const name = `lost-${how}`;
    const stateDir = join(dir, `lost-${how}`);
    const proxy = await LoseFirstEnrolAnswer.start(system.apiUrls[0]!, how);
    try {
      const args = ['--state-dir', stateDir, '--enrol-file', enr.file, '--name', name];
      const first = new ServiceProcess('agent', { VMO_LOG_LEVEL: 'info' }, ['--server', proxy.url, ...args]);
      system.agents.push(first);
      await proxy.lost;
      // The server committed: the agent exists, its one use spent, and the machine never saw its token.
      const created = await waitFor('the agent row', () => agentNamed(name), 30_000, 100);
      expect(await uses(enr.id)).toBe(1);
      const nonce = readFileSync(join(stateDir, 'enrol.nonce'), 'utf8').trim();
      registerSecret('an enrolment nonce', nonce);
      expect(mode(join(stateDir, 'enrol.nonce'))).toBe(0o600);
      expect(existsSync(join(stateDir, 'agent.token'))).toBe(false);
      let running = first;
      if (how === 'hold') {
        await first.kill();
        running = new ServiceProcess('agent', { VMO_LOG_LEVEL: 'info' }, ['--server', proxy.url, ...args]);
        system.agents.push(running);
      }
      await system.waitForAgentStatus(created.id, 'online', 60_000);
      const token = readFileSync(join(stateDir, 'agent.token'), 'utf8').trim();
      registerSecret('an enrolled agent token', token);
      expect((await sql`select token_hash from agents where id = ${created.id}`)[0]!.token_hash).toBe(hashToken(token));
      expect(readdirSync(stateDir).sort()).toEqual(['agent.token']); // the nonce is forgotten once the token is kept
      expect(await uses(enr.id)).toBe(1);
      expect(Number((await sql`select count(*)::int as n from agents where name = ${name}`)[0]!.n)).toBe(1);
      expect((await sql`select status from audit_events where action = 'agents.enrol' and resource_id = ${created.id} order by id`).map((r) => r.status)).toEqual([201, 200]);
      expect(running.output).not.toContain('409');
      const job = await system.client.submit({ command: 'echo after a lost answer', target: { type: 'agent', agent: name } });
      expect(await system.client.waitForEnd(job.id)).toMatchObject({ status: 'succeeded' });
      await running.stop();
    } finally {
      await proxy.close();
    }
  });

  it('an enrolment token never opens /v1/agent/connect (403), valid or not', async () => {
    const valid = await enrolmentToken();
    const used = await enrolmentToken({ maxUses: 1 });
    await system.client.request('POST', '/v1/agent/enrol', { name: 'uses-it-up' }, { authorization: `Bearer ${used.token}` });
    for (const token of [valid.token, used.token]) {
      const res = await openWebSocket(`${system.apiUrls[0]}/v1/agent/connect`, { token });
      expect(res.kind).toBe('refused');
      if (res.kind !== 'refused') return;
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body).error.message).toMatch(/^an enrolment token is exchanged for an agent token at POST \/v1\/agent\/enrol/);
    }
    expect(await uses(valid.id)).toBe(0);
  });

  it('a state dir others may write is refused at start (exit 78), before the enrolment token is used', async () => {
    const enr = await enrolmentToken();
    const open = join(dir, 'world-writable');
    mkdirSync(open);
    chmodSync(open, 0o777); // chmod, not mkdir's mode: the umask would take the bits away
    const refused = agent(['--state-dir', open, '--enrol-file', enr.file, '--name', 'never-enrolled']);
    expect((await refused.exited).code).toBe(78);
    expect(refused.output).toContain(`vmo-agent: invalid configuration: --state-dir: ${open} is writable by users other than its owner (mode 0777)`);
    expect(await uses(enr.id)).toBe(0);
    expect(await agentNamed('never-enrolled')).toBeUndefined();
  });

  it('§8 rotate-token: the old token is refused at once, the live socket closes, the agent waits with its job running and comes back once the new token is installed', async () => {
    const enr = await enrolmentToken();
    const stateDir = join(dir, 'rotator');
    const rotator = agent(['--state-dir', stateDir, '--enrol-file', enr.file, '--name', 'rotator']);
    const online = await waitFor('rotator online', async () => ((await agentNamed('rotator'))?.status === 'online' ? agentNamed('rotator') : undefined), 30_000, 100);
    const tokenPath = join(stateDir, 'agent.token');
    const oldToken = readFileSync(tokenPath, 'utf8').trim();

    const mark = join(dir, 'rotator-may-finish');
    const job = await system.client.submit({ command: `while [ ! -e ${mark} ]; do sleep 0.1; done; echo finished after the rotation`, target: { type: 'agent', agent: 'rotator' } });
    await system.client.waitForStatus(job.id, 'running');

    const rotated = await system.client.request('POST', '/v1/agents/rotator/rotate-token');
    expect(rotated.status, rotated.text).toBe(200);
    const newToken = rotated.body.token as string;
    registerSecret('a rotated agent token', newToken);
    expect(newToken).toMatch(/^vmo_agt_/);

    // At once: the old token opens nothing.
    const withOld = await openWebSocket(`${system.apiUrls[0]}/v1/agent/connect`, { token: oldToken });
    expect(withOld.kind === 'refused' && withOld.status).toBe(401);
    // The live socket was closed (4410): the agent says it waits for the new token, and stays up.
    await rotator.waitForOutput(/this agent's token was rotated; waiting for the new one in .*agent\.token/, 15_000);
    await system.waitForAgentStatus(online.id, 'offline');
    expect(rotator.child.exitCode).toBeNull();
    expect((await system.client.request('GET', `/v1/jobs/${job.id}`)).body.status).toBe('running');

    // The operator installs the new token as a file would be replaced: whole, 0600, renamed over.
    writeFileSync(`${tokenPath}.new`, `${newToken}\n`, { mode: 0o600 });
    renameSync(`${tokenPath}.new`, tokenPath);
    await system.waitForAgentStatus(online.id, 'online', 30_000);
    writeFileSync(mark, '');
    expect(await system.client.waitForEnd(job.id)).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await system.client.logs(job.id)).toString()).toBe('finished after the rotation\n');
    expect(rotator.child.exitCode).toBeNull();
    await rotator.stop();
  });

  it('§8 rotate-token on an agent given its token as such (no token file): it stops (exit 2) saying to restart it with the new token', async () => {
    const { id, process: proc } = await system.startAgent('rotated-fixed');
    const rotated = await system.client.request('POST', `/v1/agents/${id}/rotate-token`);
    expect(rotated.status).toBe(200);
    registerSecret('a rotated agent token', rotated.body.token);
    expect((await proc.exited).code).toBe(2);
    expect(proc.output).toMatch(/vmo-agent: this agent's token was rotated \(close 4410\); restart the agent with the new token; not reconnecting/);
  });
});
