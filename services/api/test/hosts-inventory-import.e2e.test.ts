/**
 * Issue 15, "Inventories": POST /v1/hosts/import with an Ansible inventory and with vm-config
 * files, through the real API (TestSystem: API and worker processes, Postgres, Redis). The hosts
 * are really there with their addresses, users, ports and labels; a second import answers
 * unchanged, a changed inventory updated (and a host that left a group loses that label, while a
 * label added by hand stays); skipped hosts come with their reasons; bad input is a 4xx naming
 * the field and line, and a refused import writes nothing; only admins may import (hosts:write),
 * and every request has its audit row.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, TestSystem } from '@vmo/testkit';

const FIXTURES = fileURLToPath(new URL('../../../packages/shared/test/fixtures/inventories/', import.meta.url));
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const vmConfigFiles = () => {
  const files: Record<string, string> = {};
  for (const env of readdirSync(join(FIXTURES, 'environments')).sort()) files[`${env}/config.yml`] = fixture(`environments/${env}/config.yml`);
  return files;
};

interface HostAnswer {
  ref: string;
  host: string;
  user: string;
  port: number;
  labels: Record<string, string>;
}
interface ImportAnswer {
  created: HostAnswer[];
  updated: HostAnswer[];
  unchanged: HostAnswer[];
  skipped: { alias: string; reason: string; line?: number; file?: string }[];
  warnings: { line: number; directive: string; message: string }[];
}

describe('POST /v1/hosts/import: Ansible inventories and vm-config files (real system)', { timeout: 240_000 }, () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let ids = 0;
  /** An admin request with its own X-Request-Id, so its audit row can be read back. */
  const call = async (body: unknown, client: ApiClient = system.client) => {
    const id = `inv-${++ids}`;
    const res = await client.request('POST', '/v1/hosts/import', body, { 'X-Request-Id': id });
    return { ...res, id, answer: res.body as ImportAnswer };
  };
  const hostsIn = async (environment: string) => (await system.client.request('GET', `/v1/hosts?environment=${environment}&limit=500`)).body.items as HostAnswer[];
  const count = async () => Number((await sql`select count(*)::int as n from hosts`)[0]!.n);

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'hosts_inventory_import', workers: 0 });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
  }, 240_000);
  afterAll(async () => {
    await sql?.end();
    await system?.stop();
  });

  it('INI inventories: address, user, port and one label per group (children included); skipped hosts with reasons; re-import unchanged, then updated', async () => {
    const first = await call({ format: 'ansible', inventory: fixture('own-precedence.ini'), environment: 'eu' });
    expect(first.status, first.text).toBe(200);
    const byRef = Object.fromEntries(first.answer.created.map((h) => [h.ref, h]));
    expect(Object.keys(byRef).sort()).toEqual(['db1@eu', 'lb1@eu', 'lb5@eu', 'lb9@eu', 'web-a.example.com@eu', 'web-b.example.com@eu', 'web-c.example.com@eu']);
    // ansible_ssh_host wins over ansible_host, as in Ansible's ssh plugin; the user from [prod:vars], the
    // port from [web:vars] (a child group's var wins over its parent's).
    expect(byRef['web-b.example.com@eu']).toMatchObject({ host: '10.9.0.1', user: 'produser', port: 8022, labels: { 'group.web': 'true', 'group.prod': 'true', 'group.europe': 'true' } });
    expect(byRef['db1@eu']).toMatchObject({ host: '10.0.1.1', user: 'produser', port: 5432, labels: { 'group.db': 'true', 'group.prod': 'true', 'group.europe': 'true' } });
    expect(byRef['lb5@eu']).toMatchObject({ host: '10.0.2.1', user: 'stage', port: 22, labels: { 'group.lb': 'true', 'group.staging': 'true', 'group.europe': 'true' } });
    const reasons = Object.fromEntries(first.answer.skipped.map((s) => [s.alias, s]));
    expect(Object.keys(reasons).sort()).toEqual(['badport', 'legacy', 'local', 'quoted', 'templ', 'web01.example.com', 'web02.example.com', 'web03.example.com']);
    // In [web:vars] Ansible keeps "# …" after a value that is not a Python literal: not an address.
    expect(reasons['web01.example.com']!.reason).toMatch(/^host \(ansible_host, line 12\): must be a DNS name or an IP address/);
    expect(reasons.local!.reason).toMatch(/^ansible_connection "local" is not SSH/);
    expect(reasons.templ!.reason).toMatch(/Jinja2 template/);
    expect(reasons.badport).toMatchObject({ reason: expect.stringMatching(/^ansible_port "ssh" is not a port number/), line: 37 });
    expect(reasons.quoted!.reason).toMatch(/^user \(ansible_user, line 38\): must not contain spaces/);
    // The hosts really are there, as answered.
    const listed = await hostsIn('eu');
    expect(listed.map((h) => h.ref).sort()).toEqual(Object.keys(byRef).sort());
    for (const h of listed) expect(h).toMatchObject({ host: byRef[h.ref]!.host, user: byRef[h.ref]!.user, port: byRef[h.ref]!.port, labels: byRef[h.ref]!.labels });
    const again = await call({ format: 'ansible', inventory: fixture('own-precedence.ini'), environment: 'eu' });
    expect([again.answer.created.length, again.answer.updated.length, again.answer.unchanged.length]).toEqual([0, 0, 7]);
    expect(again.answer.skipped).toEqual(first.answer.skipped);

    // A real inventory: created, unchanged, then one host moved to another group.
    const ini = fixture('real-geerlingguy-orchestration.ini');
    const created = await call({ format: 'ansible', inventory: ini, environment: 'lab' });
    expect(created.answer.created.map((h) => [h.ref, h.user, h.port, h.labels])).toEqual([
      ['192.168.60.4@lab', 'vagrant', 22, { 'group.app': 'true', 'group.multi': 'true' }],
      ['192.168.60.5@lab', 'vagrant', 22, { 'group.app': 'true', 'group.multi': 'true' }],
      ['192.168.60.6@lab', 'vagrant', 22, { 'group.db': 'true', 'group.multi': 'true' }],
    ]);
    expect((await call({ format: 'ansible', inventory: ini, environment: 'lab' })).answer.unchanged).toHaveLength(3);
    // A label added by hand stays; the host that left [app] loses group.app.
    expect((await system.client.request('PATCH', '/v1/hosts/192.168.60.5@lab', { labels: { 'group.app': 'true', 'group.multi': 'true', owner: 'team-a' } })).status).toBe(200);
    const moved = await call({ format: 'ansible', inventory: ini.replace('192.168.60.5\n', '').replace('[db]\n', '[db]\n192.168.60.5 ansible_port=2222\n'), environment: 'lab' });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.answer.updated.map((h) => [h.ref, h.port, h.labels])).toEqual([['192.168.60.5@lab', 2222, { owner: 'team-a', 'group.db': 'true', 'group.multi': 'true' }]]);
    expect(moved.answer.unchanged.map((h) => h.ref)).toEqual(['192.168.60.4@lab', '192.168.60.6@lab']);
  });

  it('a YAML inventory (kubespray sample, flow mappings and hosts as text); a vm-config tree: one host per VM in its environment labelled env', async () => {
    const yaml = await call({ format: 'ansible', inventory: fixture('own-multi-group.yaml'), environment: 'east' });
    expect(yaml.status, yaml.text).toBe(200);
    expect(yaml.answer.created.map((h) => [h.ref, h.host, h.user, h.port, h.labels])).toEqual([
      // monitoring and webservers are equally deep: monitoring's ansible_group_priority 5 wins
      ['app-01@east', '192.0.2.11', 'mon', 2022, { 'group.webservers': 'true', 'group.monitoring': 'true', 'group.datacenter_east': 'true', 'group.everything': 'true' }],
      ['app-02@east', '192.0.2.12', 'www', 2022, { 'group.webservers': 'true', 'group.datacenter_east': 'true', 'group.everything': 'true' }],
      ['mon-01@east', '192.0.2.20', 'prom', 2200, { 'group.monitoring': 'true', 'group.datacenter_east': 'true', 'group.everything': 'true' }],
    ]);
    const kubespray = await call({ format: 'ansible', inventory: fixture('real-kubespray-sample.yml'), syntax: 'yaml', environment: 'k8s' });
    expect(kubespray.status, kubespray.text).toBe(200);
    expect(kubespray.answer.created).toEqual([]);
    expect(kubespray.answer.skipped.map((s) => s.alias)).toEqual(['node1', 'node2', 'node3', 'node4', 'node5', 'node6', 'node1 node2 node3', 'node4 node5 node6']);

    const vm = await call({ format: 'vm-config', files: vmConfigFiles() });
    expect(vm.status, vm.text).toBe(200);
    expect(vm.answer.created.map((h) => [h.ref, h.host, h.user, h.port, h.labels])).toEqual([
      ['laptop_vm@dev', '192.168.56.10', 'vagrant', 22, { env: 'dev' }],
      ['web-1@prod', '10.0.1.11', 'deploy', 22, { env: 'prod' }],
      ['web-2@prod', '10.0.1.12', 'deploy', 22, { env: 'prod' }],
      ['db-1@prod', 'db-1.prod.internal', 'postgres', 2222, { env: 'prod' }],
      ['web-1@staging', '10.1.1.11', 'deploy', 22, { env: 'staging' }],
      ['db-1@staging', '10.1.1.21', 'postgres', 2200, { env: 'staging' }],
    ]);
    expect(vm.answer.skipped.map((s) => [s.file, s.alias, s.line])).toEqual([
      ['dev/config.yml', 'bad name!', 4],
      ['dev/config.yml', 'spaced', 5],
      ['staging/config.yml', 'scratch', 6],
    ]);
    expect(vm.answer.skipped[2]!.reason).toBe('has no ansible_user (the user to log in as)');
    const again = await call({ format: 'vm-config', files: vmConfigFiles() });
    expect([again.answer.created.length, again.answer.updated.length, again.answer.unchanged.length, again.answer.skipped.length]).toEqual([0, 0, 6, 3]);
    const changed = await call({ format: 'vm-config', files: { 'prod/config.yml': fixture('environments/prod/config.yml').replace('port: 2222', 'port: 2223') } });
    expect([changed.answer.updated.map((h) => `${h.ref}:${h.port}`), changed.answer.unchanged.length]).toEqual([['db-1@prod:2223'], 2]);
    expect((await hostsIn('prod')).find((h) => h.ref === 'db-1@prod')!.port).toBe(2223);
  });

  it('bad input is a 4xx naming the field (and line); a refused import writes nothing; the ssh-config form still works unchanged', async () => {
    const before = await count();
    const refused: [unknown, number, string, RegExp][] = [
      [{ format: 'ansible' }, 400, 'validation_failed', /^inventory: is required/],
      [{ format: 'ansible', inventory: 'x', syntax: 'toml' }, 400, 'validation_failed', /^syntax: must be "ini" or "yaml"/],
      [{ format: 'nope', config: 'x' }, 400, 'validation_failed', /^format: must be "ssh-config" \(the default\), "ansible" or "vm-config"/],
      [{ format: 'vm-config', files: {} }, 400, 'validation_failed', /^files: must name at least one/],
      [{ format: 'vm-config', files: { 'prod/config.yml': 7 } }, 400, 'validation_failed', /^files\.prod\/config\.yml: must be a string/],
      [{ format: 'ansible', inventory: fixture('refused-kubespray-local.ini') }, 400, 'invalid_inventory', /^inventory: neither a YAML inventory \(.*\) nor an INI one \(line 15: Section \[k8s-cluster:children\] includes undefined group: calico-rr\)/],
      // A good host before the bad line: nothing of it may be written.
      [{ format: 'ansible', inventory: 'all:\n  hosts:\n    ok-1: {ansible_host: 10.0.0.1, ansible_user: u}\n    bad: !!python/object:os.system x\n', syntax: 'yaml' }, 400, 'invalid_inventory', /^inventory line 4: could not determine a constructor/],
      [{ format: 'vm-config', files: { 'prod/config.yml': 'vms:\n  ok-2: {host: h, ansible_user: u}\n', 'qa/config.yml': 'vms:\n  x: {host: [1], ansible_user: u}\n' } }, 400, 'invalid_inventory', /^files\.qa\/config\.yml line 2: vms\.x\.host: must be a string/],
      [{ format: 'ansible', inventory: `all:\n  hosts:\n    ${'['.repeat(100)}\n`, syntax: 'yaml' }, 413, 'inventory_too_large', /^inventory: line 3: YAML nested deeper than 64 levels/],
      [{ format: 'ansible', inventory: 'web[0:99999999].example.com\n', syntax: 'ini' }, 413, 'inventory_too_large', /^inventory: line 1: web\[0:99999999\]\.example\.com expands to more than 10000 hosts/],
    ];
    for (const [body, status, code, message] of refused) {
      const res = await call(body);
      expect([res.status, res.body?.error?.code], `${JSON.stringify(body).slice(0, 80)}: ${res.text}`).toEqual([status, code]);
      expect(res.body.error.message).toMatch(message);
    }
    expect(await count()).toBe(before);
    expect((await system.client.request('GET', '/v1/hosts/ok-1@default')).status).toBe(404);

    const ssh = await call({ config: 'Host ssh-1\n  HostName 10.3.0.1\n  User ops\n', environment: 'sshcfg' });
    expect([ssh.status, ssh.answer.created.map((h) => h.ref)]).toEqual([200, ['ssh-1@sshcfg']]);
    const explicit = await call({ format: 'ssh-config', config: 'Host ssh-1\n  HostName 10.3.0.1\n  User ops\n', environment: 'sshcfg' });
    expect(explicit.answer.unchanged.map((h) => h.ref)).toEqual(['ssh-1@sshcfg']);
  });

  it('only admins may import (hosts:write): an operator is refused with 403 and nothing is created; every request is on the audit trail', async () => {
    expect((await system.client.request('POST', '/v1/users', { name: 'ina', role: 'operator' })).status).toBe(201);
    const token = await system.client.request('POST', '/v1/tokens', { name: 'ina', user: 'ina' });
    expect(token.status, token.text).toBe(201);
    const ina = new ApiClient(system.apiUrls[0]!, token.body.token as string);
    const before = await count();
    const denied = await call({ format: 'vm-config', files: { 'ops/config.yml': 'vms:\n  op-1: {host: h, ansible_user: u}\n' } }, ina);
    expect([denied.status, denied.body.error.code]).toEqual([403, 'forbidden']);
    expect(await count()).toBe(before);

    const rows = await sql<{ request_id: string; action: string; result: string; status: number; detail: Record<string, unknown> | null; targets: string[] | null }[]>`
      select request_id, action, result, status, detail, targets from audit_events where request_id like 'inv-%' order by id`;
    expect(rows.map((r) => r.request_id).sort()).toEqual(Array.from({ length: ids }, (_, i) => `inv-${i + 1}`).sort());
    for (const r of rows) expect(r.action).toBe('hosts.import');
    const vmRow = rows.find((r) => r.detail?.created === 6)!;
    expect(vmRow).toMatchObject({ result: 'allowed', status: 200, detail: { created: 6, updated: 0, unchanged: 0, skipped: 3 } });
    expect(vmRow.targets).toContain('db-1@prod');
    expect(rows.find((r) => r.request_id === denied.id)).toMatchObject({ result: 'denied', status: 403 });
    expect(rows.filter((r) => r.status === 400 || r.status === 413).every((r) => r.result === 'failed')).toBe(true);
  });
});
