import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

describe('/v1/hosts (in-process, app.request)', () => {
  let fixture: InProcessApp;
  let app: InProcessApp['app'];
  let token: string;

  beforeAll(async () => {
    fixture = await startInProcessApp('hosts_api');
    ({ app, token } = fixture);
  });
  afterAll(() => fixture?.close());

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };

  it('creates, reads (by id, name and name@environment), lists, updates and deletes a host', async () => {
    const created = await call('POST', '/v1/hosts', { name: 'web-1', host: '10.0.0.5', user: 'deploy', labels: { role: 'web' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'web-1', environment: 'default', ref: 'web-1@default', port: 22, hostKeyPolicy: 'strict', pinnedHostKeys: [], identityFile: null });
    expect(created.body.id).toMatch(/^host_[0-9a-z]{20}$/);
    expect(created.headers.get('location')).toBe(`/v1/hosts/${created.body.id}`);

    for (const ref of [created.body.id, 'web-1', 'web-1@default']) expect((await call('GET', `/v1/hosts/${ref}`)).body.id).toBe(created.body.id);
    expect((await call('GET', '/v1/hosts')).body.items.map((h: { name: string }) => h.name)).toContain('web-1');

    const patched = await call('PATCH', `/v1/hosts/${created.body.id}`, { name: 'web-01', labels: { role: 'api' }, port: 2222, hostKeyPolicy: 'accept-new', pinnedHostKeys: [KEY], proxyJump: 'bastion' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'web-01', labels: { role: 'api' }, port: 2222, hostKeyPolicy: 'accept-new', pinnedHostKeys: [KEY], proxyJump: 'bastion' });
    expect(Date.parse(patched.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.body.updatedAt));

    expect((await call('DELETE', `/v1/hosts/${created.body.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/hosts/${created.body.id}`)).status).toBe(404);
  });

  it('answers 409 on a (name, environment) clash, on create and on rename; other environments are fine', async () => {
    expect((await call('POST', '/v1/hosts', { name: 'dup', host: 'a', user: 'u' })).status).toBe(201);
    const clash = await call('POST', '/v1/hosts', { name: 'dup', host: 'b', user: 'u' });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe('host_exists');
    const staging = await call('POST', '/v1/hosts', { name: 'dup', environment: 'staging', host: 'b', user: 'u' });
    expect(staging.status).toBe(201);
    expect((await call('PATCH', `/v1/hosts/${staging.body.id}`, { environment: 'default' })).status).toBe(409);
    // A bare name in several environments: the default one wins.
    expect((await call('GET', '/v1/hosts/dup')).body.environment).toBe('default');
  });

  it('answers 400 naming the field for bad input, and 404 for unknown hosts', async () => {
    const cases: [unknown, string][] = [
      [{ host: 'a', user: 'u' }, 'name'],
      [{ name: 'bad name', host: 'a', user: 'u' }, 'name'],
      [{ name: 'x', host: 'a', user: 'u', port: 70000 }, 'port'],
      [{ name: 'x', host: 'a', user: 'u', hostKeyPolicy: 'no' }, 'hostKeyPolicy'],
      [{ name: 'x', host: 'a', user: 'u', pinnedHostKeys: ['ssh-ed25519 AAAA'] }, 'pinnedHostKeys.0'],
      [{ name: 'x', host: 'a b', user: 'u' }, 'host'],
      [{ name: 'x', host: 'a', user: 'u', portt: 22 }, 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await call('POST', '/v1/hosts', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.message.startsWith(field) || res.body.error.details?.field === field, `${res.body.error.message} names ${field}`).toBe(true);
    }
    expect((await call('GET', '/v1/hosts/host_00000000000000000000')).status).toBe(404);
    expect((await call('PATCH', '/v1/hosts/nope', { port: 22 })).status).toBe(404);
    expect((await call('DELETE', '/v1/hosts/nope@nowhere')).status).toBe(404);
  });

  it('imports an OpenSSH config: creates, then updates or leaves alone, and reports what it skipped', async () => {
    const config = [
      'Include ~/.ssh/conf.d/*',
      'Match exec "true"',
      '  User root',
      'Host app1 app1.lan',
      '  HostName 10.1.0.1',
      'Host app2',
      '  HostName 10.1.0.2',
      '  Port 2201',
      'Host *.lan app*',
      '  User ops',
      '  ProxyJump jump',
      'Host *',
      '  IdentityFile ~/.ssh/id_ops',
    ].join('\n');
    const first = await call('POST', '/v1/hosts/import', { config, environment: 'lab' });
    expect(first.status).toBe(200);
    expect(first.body.created.map((h: { name: string }) => h.name).sort()).toEqual([]);
    // Match exec (first in the file) could set User for everyone: every alias is skipped rather than guessed.
    expect(first.body.skipped.map((s: { alias: string }) => s.alias).sort()).toEqual(['Include ~/.ssh/conf.d/*', 'Match exec true', 'app1', 'app1.lan', 'app2'].sort());

    const clean = config.replace('Match exec "true"\n  User root\n', '');
    const second = await call('POST', '/v1/hosts/import', { config: clean, environment: 'lab' });
    expect(second.body.created.map((h: { name: string }) => h.name).sort()).toEqual(['app1', 'app1.lan', 'app2']);
    expect(second.body.created.find((h: { name: string }) => h.name === 'app2')).toMatchObject({ environment: 'lab', host: '10.1.0.2', user: 'ops', port: 2201, proxyJump: 'jump', identityFile: '~/.ssh/id_ops' });

    const third = await call('POST', '/v1/hosts/import', { config: clean.replace('10.1.0.2', '10.1.0.22'), environment: 'lab' });
    expect(third.body.created).toEqual([]);
    expect(third.body.updated.map((h: { name: string; host: string }) => [h.name, h.host])).toEqual([['app2', '10.1.0.22']]);
    expect(third.body.unchanged.map((h: { name: string }) => h.name).sort()).toEqual(['app1', 'app1.lan']);

    const bad = await call('POST', '/v1/hosts/import', { config: 'Match host\n' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_ssh_config');
    expect((await call('POST', '/v1/hosts/import', {})).body.error.message).toMatch(/^config/);
  });

  it('accepts ssh job targets by name@environment, and answers 422 unknown_host otherwise', async () => {
    const host = await call('POST', '/v1/hosts', { name: 'target', environment: 'prod', host: '10.2.0.1', user: 'u' });
    const job = await call('POST', '/v1/jobs', { command: 'true', target: { type: 'ssh', host: 'target@prod' } });
    expect(job.status).toBe(201);
    expect(job.body.hostId).toBe(host.body.id);
    const unknown = await call('POST', '/v1/jobs', { command: 'true', target: { type: 'ssh', host: 'target@dev' } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.code).toBe('unknown_host');
    const bad = await call('POST', '/v1/jobs', { command: 'true', target: { type: 'ssh' } });
    expect(bad.status).toBe(400);
  });
});
