/**
 * Issue 15, "Inventories": `vmo hosts import --format ansible FILE` and `--format vm-config DIR`
 * against the real stack, the real CLI as a child process: each host created, updated,
 * unchanged or skipped (with the file and line the API names), the answer as JSON, and the usage
 * errors before anything is sent.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';
import { runCli, useBundle } from './run-cli.ts';

const FIXTURES = fileURLToPath(new URL('../../shared/test/fixtures/inventories/', import.meta.url));

describe('vmo hosts import --format ansible | vm-config (real stack)', { timeout: 300_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'cli_inventory', workers: 0 });
    dir = mkdtempSync(join(tmpdir(), 'vmo-inventory-'));
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(dir, 'xdg'), HOME: dir };
    await useBundle();
  }, 240_000);
  afterAll(async () => {
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const vmo = (args: string[], input?: string) => runCli(args, { env, cwd: dir, timeoutMs: 240_000, ...(input === undefined ? {} : { input }) });
  const rowsOf = (text: string) => {
    const lines = text.trimEnd().split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^RESULT +HOST +DETAIL$/);
    return lines.slice(1).map((l) => /^(\S+) +(\S+) +(.*)$/.exec(l)!.slice(1));
  };

  it('--format ansible: an INI inventory, then the same again (unchanged), and a YAML one from stdin', async () => {
    const file = join(FIXTURES, 'real-geerlingguy-orchestration.ini');
    const first = await vmo(['hosts', 'import', '--format', 'ansible', file, '--environment', 'lab']);
    expect(first.code, first.stderr.toString()).toBe(0);
    expect(rowsOf(first.stdout.toString())).toEqual([
      ['created', '192.168.60.4@lab', 'vagrant@192.168.60.4:22'],
      ['created', '192.168.60.5@lab', 'vagrant@192.168.60.5:22'],
      ['created', '192.168.60.6@lab', 'vagrant@192.168.60.6:22'],
    ]);
    expect(first.stderr.toString()).toContain(`${file}: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 warnings`);
    const again = await vmo(['hosts', 'import', '--format', 'ansible', file, '--environment', 'lab', '--json']);
    const answer = JSON.parse(again.stdout.toString());
    expect(answer.unchanged.map((h: { ref: string; labels: Record<string, string> }) => [h.ref, h.labels])).toEqual([
      ['192.168.60.4@lab', { 'group.app': 'true', 'group.multi': 'true' }],
      ['192.168.60.5@lab', { 'group.app': 'true', 'group.multi': 'true' }],
      ['192.168.60.6@lab', { 'group.db': 'true', 'group.multi': 'true' }],
    ]);

    const yaml = await vmo(['hosts', 'import', '--format', 'ansible', '--syntax', 'yaml', '-', '--environment', 'east'], 'web:\n  hosts:\n    w1: {ansible_host: 10.4.0.1, ansible_user: www, ansible_port: 2222}\n    w2: {ansible_host: 10.4.0.2}\n');
    expect(yaml.code, yaml.stderr.toString()).toBe(0);
    expect(rowsOf(yaml.stdout.toString())).toEqual([
      ['created', 'w1@east', 'www@10.4.0.1:2222'],
      ['skipped', 'w2', expect.stringMatching(/^line 4: no ansible_user applies to it/)],
    ]);
  });

  it('--format vm-config: reads <env>/config.yml under the directory (default ./environments); skipped VMs name their file and line', async () => {
    cpSync(join(FIXTURES, 'environments'), join(dir, 'environments'), { recursive: true });
    const res = await vmo(['hosts', 'import', '--format', 'vm-config']);
    expect(res.code, res.stderr.toString()).toBe(0);
    const rows = rowsOf(res.stdout.toString());
    expect(rows.filter((r) => r[0] === 'created').map((r) => r[1])).toEqual(['laptop_vm@dev', 'web-1@prod', 'web-2@prod', 'db-1@prod', 'web-1@staging', 'db-1@staging']);
    expect(rows).toContainEqual(['created', 'db-1@prod', 'postgres@db-1.prod.internal:2222']);
    expect(res.stdout.toString()).toMatch(/^skipped +scratch +staging\/config\.yml line 6: has no ansible_user \(the user to log in as\)$/m);
    expect(res.stderr.toString()).toContain('environments: 6 created, 0 updated, 0 unchanged, 3 skipped');
    const listed = await system.client.request('GET', '/v1/hosts?environment=staging');
    expect(listed.body.items.map((h: { ref: string; labels: Record<string, string> }) => [h.ref, h.labels.env])).toEqual([['db-1@staging', 'staging'], ['web-1@staging', 'staging']]);
  });

  it('usage errors before anything is sent; a file the API refuses is its 400 naming the line', async () => {
    const noPath = await vmo(['hosts', 'import', '--format', 'ansible']);
    expect(noPath.code).toBe(2);
    expect(noPath.stderr.toString()).toContain('path: the inventory file (or - for stdin) is required with --format ansible');
    expect((await vmo(['hosts', 'import', '--format', 'vm-config', '--environment', 'x'])).code).toBe(2);
    expect((await vmo(['hosts', 'import', '--syntax', 'ini'])).code).toBe(2);
    const empty = await vmo(['hosts', 'import', '--format', 'vm-config', join(dir, 'xdg')]);
    expect(empty.code).toBe(70);
    const refused = await vmo(['hosts', 'import', '--format', 'ansible', '--syntax', 'ini', join(FIXTURES, 'refused-kubespray-local.ini')]);
    expect(refused.code).toBe(70);
    expect(refused.stderr.toString()).toMatch(/^vmo: invalid_inventory: inventory line 15: Section \[k8s-cluster:children\] includes undefined group: calico-rr/m);
  });
});
